import type * as tf from '@tensorflow/tfjs';

/** Parameter counts of a model. */
export interface ParamCount {
  /** Weights an optimiser updates (the count papers quote: 35,842 for mobile-s). */
  trainable: number;
  /** Weights that are not trained by gradient (BN moving mean and variance). */
  nonTrainable: number;
  total: number;
}

/** Multiply-accumulates of one layer for one image. */
export interface LayerMacs {
  layer: string;
  className: string;
  macs: number;
}

const size = (shape: readonly (number | null)[]): number => shape.reduce<number>((a, d) => a * (d ?? 1), 1);

/** Counts a model's trainable and non-trainable parameters. */
export function countParams(model: tf.LayersModel): ParamCount {
  const trainable = model.trainableWeights.reduce((s, w) => s + size(w.shape), 0);
  const nonTrainable = model.nonTrainableWeights.reduce((s, w) => s + size(w.shape), 0);
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}

/** Layer classes that multiply by weights. */
const MAC_LAYERS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose', 'Dense']);

function shapeOf(s: tf.Shape | tf.Shape[]): tf.Shape {
  return Array.isArray(s[0]) ? (s as tf.Shape[])[0] : (s as tf.Shape);
}

/**
 * Multiply-accumulates per image of each layer that does arithmetic on weights, read from
 * the layer graph: a convolution costs outH·outW·kh·kw·inC·outC (depthwise: ·multiplier
 * instead of ·outC; transposed: inH·inW·kh·kw·inC·outC), a dense layer in·out. BN,
 * activations, pooling and element-wise layers count 0 (BN folds into the conv on export).
 */
export function macsByLayer(model: tf.LayersModel): LayerMacs[] {
  const out: LayerMacs[] = [];
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (!MAC_LAYERS.has(className)) continue;
    const cfg = layer.getConfig() as { kernelSize?: number[]; filters?: number; depthMultiplier?: number; units?: number };
    const node = layer.inboundNodes[0];
    const inShape = shapeOf(node.inputShapes);
    const outShape = shapeOf(node.outputShapes);
    const k = cfg.kernelSize ? size(cfg.kernelSize) : 1;
    let macs = 0;
    if (className === 'Conv2D') macs = size(outShape.slice(1, 3)) * k * (inShape[3] ?? 0) * (cfg.filters ?? 0);
    else if (className === 'DepthwiseConv2D') macs = size(outShape.slice(1, 3)) * k * (inShape[3] ?? 0) * (cfg.depthMultiplier ?? 1);
    else if (className === 'SeparableConv2D') {
      const c = inShape[3] ?? 0;
      const m = cfg.depthMultiplier ?? 1;
      macs = size(outShape.slice(1, 3)) * (k * c * m + c * m * (cfg.filters ?? 0));
    } else if (className === 'Conv2DTranspose') macs = size(inShape.slice(1, 3)) * k * (inShape[3] ?? 0) * (cfg.filters ?? 0);
    else if (className === 'Dense') macs = size(inShape.slice(1)) * (cfg.units ?? 0);
    out.push({ layer: layer.name, className, macs });
  }
  return out;
}

/** Total multiply-accumulates of a model for one image (see macsByLayer). */
export function countMacs(model: tf.LayersModel): number {
  return macsByLayer(model).reduce((s, l) => s + l.macs, 0);
}
