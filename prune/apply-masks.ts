import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import { analyzeChannels, type ChannelGraph } from './graph.ts';
import { weightAxes, weightRole } from './layer-kinds.ts';
import { nodesKept, unitsKept, type PruneMasks } from './masks.ts';

/** One weight of one layer and, per channel axis it has, which indices survive. */
export interface WeightCut {
  layer: string;
  /** Index in `layer.weights`. */
  index: number;
  /** The tfjs variable name (the key of gradients from `optimizer.computeGradients`). */
  variable: string;
  axes: { axis: number; keep: boolean[] }[];
}

/**
 * Per weight, the channel indices that survive the masks: producers' output axes, consumers'
 * input axes (conv input channels, dense rows after a flatten), per-channel vectors of BN and
 * depthwise layers. Weights untouched by the masks are left out.
 */
export function weightCuts(model: tf.LayersModel, graph: ChannelGraph, masks: PruneMasks): WeightCut[] {
  const kept = unitsKept(graph, masks);
  const cuts: WeightCut[] = [];
  for (const l of graph.layers) {
    if (l.kind !== 'producer' && l.kind !== 'channelwise') continue;
    const layer = model.getLayer(l.name);
    const inKeep = l.inputs.length ? nodesKept(graph, kept, l.inputs[0]) : [];
    const outKeep = nodesKept(graph, kept, l.output);
    layer.weights.forEach((w, index) => {
      const ax = weightAxes(layer, w.originalName);
      const axes: WeightCut['axes'] = [];
      if (ax.in !== undefined && inKeep.includes(false)) axes.push({ axis: ax.in, keep: inKeep });
      if (ax.out !== undefined && outKeep.includes(false)) axes.push({ axis: ax.out, keep: outKeep });
      for (const a of axes) if (w.shape[a.axis] !== a.keep.length) throw new Error(`${w.originalName}: axis ${a.axis} has ${w.shape[a.axis]} channels, graph says ${a.keep.length}`);
      if (axes.length) cuts.push({ layer: l.name, index, variable: w.name, axes });
    });
  }
  return cuts;
}

/** A 0/1 tensor of `shape` that is 1 where every cut axis keeps the index. */
function maskTensor(shape: number[], axes: WeightCut['axes']): tf.Tensor {
  return tf.tidy(() => {
    let m: tf.Tensor = tf.ones(shape);
    for (const { axis, keep } of axes) {
      const s = shape.map((_, i) => (i === axis ? keep.length : 1));
      m = tf.mul(m, tf.tensor(keep.map(Number), s));
    }
    return m;
  });
}

/**
 * Masks for training: zeroes masked channels in the weights (call after each optimizer step)
 * and in gradients (call between computing and applying them). A masked channel's conv/dense
 * filter, bias, BN γ/β/mean and depthwise filter become 0, so it outputs 0, as if removed;
 * consumers' input rows are zeroed too. BN moving variance is left alone.
 */
export interface MaskHook {
  readonly masks: PruneMasks;
  /** Multiplies every masked weight by its 0/1 mask, in place. */
  applyToWeights(): void;
  /** Returns gradients (keyed by variable name) with masked entries zeroed; inputs are not disposed. */
  maskGradients(grads: tf.NamedTensorMap): tf.NamedTensorMap;
  /** Frees the mask tensors. */
  dispose(): void;
}

/** Builds a MaskHook for a model (the graph is analysed if not given). */
export function createMaskHook(model: tf.LayersModel, masks: PruneMasks, graph: ChannelGraph = analyzeChannels(model)): MaskHook {
  const cuts = weightCuts(model, graph, masks);
  const entries = cuts.map((c) => {
    const w = model.getLayer(c.layer).weights[c.index];
    const axes = weightRole(w.originalName) === 'moving_variance' ? [] : c.axes;
    return { w, variable: c.variable, mask: maskTensor(w.shape as number[], axes), skip: axes.length === 0 };
  });
  const byVariable = new Map(entries.map((e) => [e.variable, e]));
  return {
    masks,
    applyToWeights() {
      for (const e of entries) {
        if (e.skip) continue;
        const next = tf.tidy(() => tf.mul(e.w.read(), e.mask));
        e.w.write(next);
        next.dispose();
      }
    },
    maskGradients(grads) {
      const out: tf.NamedTensorMap = {};
      for (const [name, g] of Object.entries(grads)) {
        const e = byVariable.get(name);
        out[name] = e && !e.skip ? tf.mul(g, e.mask) : tf.clone(g);
      }
      return out;
    },
    dispose() {
      entries.forEach((e) => e.mask.dispose());
    },
  };
}

/** Zeroes the masked channels of a model's weights once (see MaskHook). */
export function applyMasks(model: tf.LayersModel, masks: PruneMasks, graph?: ChannelGraph): void {
  const hook = createMaskHook(model, masks, graph);
  hook.applyToWeights();
  hook.dispose();
}

/**
 * The masks as 0/1 named tensors over the model's trainable weights (`originalName`, shape,
 * float32 data), the form train/'s `trainLocal({masks})` multiplies into weights and gradients
 * after every step. Weights the masks do not touch are left out.
 */
export function trainableWeightMasks(model: tf.LayersModel, masks: PruneMasks, graph: ChannelGraph = analyzeChannels(model)): NamedTensor[] {
  const trainable = new Set(model.trainableWeights.map((w) => w.name));
  return weightCuts(model, graph, masks).flatMap((c) => {
    const w = model.getLayer(c.layer).weights[c.index];
    if (!trainable.has(w.name)) return [];
    const shape = w.shape as number[];
    const m = maskTensor(shape, c.axes);
    const data = m.dataSync() as Float32Array;
    m.dispose();
    return [{ name: w.originalName, shape, dtype: 'float32' as const, data }];
  });
}
