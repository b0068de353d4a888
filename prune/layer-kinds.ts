import type * as tf from '@tensorflow/tfjs';

/**
 * How a layer treats the channel (last) axis of its inputs, for pruning:
 * - `producer`: makes new output channels from all input channels (Conv2D, Dense, ...);
 * - `channelwise`: output channel c depends only on input channel c, and a zero channel stays zero
 *   once its per-channel weights are zeroed (BN, depthwise conv, ReLU, pooling, ...);
 * - `tie`: element-wise merge of equally shaped inputs (Add, Multiply, ...), whose channels are tied;
 * - `concat`: concatenation on the channel axis (channel indices are offset);
 * - `flatten`: NHWC flatten, channel c becomes every position k with k mod C = c;
 * - `input`: a model input (never pruned);
 * - `opaque`: anything else (and any channels-first layer); channels through it are never pruned.
 */
export type LayerKind = 'producer' | 'channelwise' | 'tie' | 'concat' | 'flatten' | 'input' | 'opaque';

/** Which axis of a weight follows the layer's input channels (`in`) or its output channels (`out`). */
export interface WeightAxes {
  in?: number;
  out?: number;
}

/** Activations f with f(0) = 0, so a zeroed channel stays zero through them. */
const ZERO_PRESERVING = new Set(['linear', 'relu', 'relu6', 'elu', 'selu', 'tanh', 'softsign', 'swish', 'mish', 'gelu', 'gelu_new', null, undefined]);

const CHANNELWISE = new Set([
  'BatchNormalization', 'Activation', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Dropout', 'SpatialDropout1D',
  'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D',
  'GlobalMaxPooling2D', 'UpSampling2D', 'ZeroPadding2D', 'Cropping2D', 'DepthwiseConv2D',
]);

const PRODUCERS = new Set(['Conv2D', 'Dense', 'Conv2DTranspose', 'SeparableConv2D']);

const TIES = new Set(['Add', 'Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum']);

/** The layer's config as a plain record. */
function config(layer: tf.layers.Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

/** True if the channel axis is the last one for an axis-taking layer (BN, Concatenate). */
function lastAxis(axis: unknown, rank: number): boolean {
  if (Array.isArray(axis)) return axis.length === 1 && lastAxis(axis[0], rank);
  return axis === -1 || axis === rank - 1;
}

/** Rank of the layer's (first) input. */
function inputRank(layer: tf.layers.Layer): number {
  return layer.inboundNodes[0].inputTensors[0].shape.length;
}

/** Classifies a layer; layers whose behaviour would not keep a zeroed channel zero are `opaque`. */
export function layerKind(layer: tf.layers.Layer): LayerKind {
  const cls = layer.getClassName();
  const cfg = config(layer);
  if (cls === 'InputLayer') return 'input';
  if (cfg.dataFormat === 'channelsFirst') return 'opaque';
  if (PRODUCERS.has(cls)) {
    if (!ZERO_PRESERVING.has(cfg.activation as string)) return 'opaque';
    if (cls === 'SeparableConv2D' && cfg.depth_multiplier !== 1 && cfg.depthMultiplier !== 1) return 'opaque';
    return 'producer';
  }
  if (CHANNELWISE.has(cls)) {
    if (cls === 'Activation' && !ZERO_PRESERVING.has(cfg.activation as string)) return 'opaque';
    if (cls === 'DepthwiseConv2D') {
      const mult = cfg.depthMultiplier ?? cfg.depth_multiplier ?? 1;
      if (mult !== 1 || !ZERO_PRESERVING.has(cfg.activation as string)) return 'opaque';
    }
    if (cls === 'BatchNormalization' && !lastAxis(cfg.axis, inputRank(layer))) return 'opaque';
    if (cls === 'ThresholdedReLU' && Number(cfg.theta ?? 1) < 0) return 'opaque';
    return 'channelwise';
  }
  if (TIES.has(cls)) return 'tie';
  if (cls === 'Concatenate') return lastAxis(cfg.axis, inputRank(layer)) ? 'concat' : 'opaque';
  if (cls === 'Flatten') return 'flatten';
  return 'opaque';
}

/**
 * The channel axes of a layer's weight, by the weight's role (the last part of its name):
 * `kernel` of Conv2D [kh,kw,in,out], Dense [in,out], Conv2DTranspose [kh,kw,out,in];
 * `depthwise_kernel` [kh,kw,in,1]; `pointwise_kernel` [1,1,in,out]; per-channel vectors.
 */
export function weightAxes(layer: tf.layers.Layer, weightName: string): WeightAxes {
  const cls = layer.getClassName();
  const role = weightRole(weightName);
  if (cls === 'Dense') return role === 'kernel' ? { in: 0, out: 1 } : { out: 0 };
  if (cls === 'Conv2D') return role === 'kernel' ? { in: 2, out: 3 } : { out: 0 };
  if (cls === 'Conv2DTranspose') return role === 'kernel' ? { in: 3, out: 2 } : { out: 0 };
  if (cls === 'SeparableConv2D') {
    if (role === 'depthwise_kernel') return { in: 2 };
    if (role === 'pointwise_kernel') return { in: 2, out: 3 };
    return { out: 0 };
  }
  if (cls === 'DepthwiseConv2D') return role === 'depthwise_kernel' ? { in: 2 } : { in: 0 };
  return { in: 0 };
}

/** The weight a producer's importance is measured on, and the config key of its channel count. */
export function producerSpec(layer: tf.layers.Layer): { weight: string; sizeKey: 'filters' | 'units' } {
  const cls = layer.getClassName();
  if (cls === 'Dense') return { weight: 'kernel', sizeKey: 'units' };
  if (cls === 'SeparableConv2D') return { weight: 'pointwise_kernel', sizeKey: 'filters' };
  return { weight: 'kernel', sizeKey: 'filters' };
}

/** The role part of a weight name: `block1/dw/depthwise_kernel` → `depthwise_kernel`. */
export function weightRole(weightName: string): string {
  return weightName.slice(weightName.lastIndexOf('/') + 1);
}
