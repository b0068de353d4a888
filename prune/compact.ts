import type * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import { weightCuts, type WeightCut } from './apply-masks.ts';
import { analyzeChannels, type ChannelGraph } from './graph.ts';
import type { PruneMasks } from './masks.ts';

/** True for flat index i of a tensor with these strides when every cut axis keeps i's index. */
function keeps(i: number, shape: readonly number[], strides: readonly number[], axes: WeightCut['axes']): boolean {
  return axes.every(({ axis, keep }) => keep[Math.floor(i / strides[axis]) % shape[axis]]);
}

function stridesOf(shape: readonly number[]): number[] {
  const s = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** The kept entries of a row-major tensor (row-major over the kept indices) and their shape. */
export function sliceAxes(data: Float32Array, shape: readonly number[], axes: WeightCut['axes']): { data: Float32Array; shape: number[] } {
  const strides = stridesOf(shape);
  const outShape = shape.map((d, a) => axes.find((c) => c.axis === a)?.keep.filter(Boolean).length ?? d);
  const out = new Float32Array(outShape.reduce((a, b) => a * b, 1));
  let j = 0;
  for (let i = 0; i < data.length; i++) if (keeps(i, shape, strides, axes)) out[j++] = data[i];
  return { data: out, shape: outShape };
}

/** The inverse of sliceAxes: a full-shape tensor with the kept entries filled in and zeros elsewhere. */
export function scatterAxes(compact: Float32Array, shape: readonly number[], axes: WeightCut['axes']): Float32Array {
  const strides = stridesOf(shape);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let j = 0;
  for (let i = 0; i < out.length; i++) if (keeps(i, shape, strides, axes)) out[i] = compact[j++];
  if (j !== compact.length) throw new Error(`compact tensor has ${compact.length} values, the masks keep ${j}`);
  return out;
}

function cutsByWeight(model: tf.LayersModel, graph: ChannelGraph, masks: PruneMasks): Map<string, WeightCut['axes']> {
  const m = new Map<string, WeightCut['axes']>();
  for (const c of weightCuts(model, graph, masks)) m.set(model.getLayer(c.layer).weights[c.index].originalName, c.axes);
  return m;
}

/**
 * A masked model's weights without the masked channels, as named tensors in `model.weights`
 * order: what travels on the wire in rounds after pruning, so the wire size shrinks with the
 * masks while every site keeps the same full architecture. Shapes equal those of
 * `shrinkModel(model, masks)`'s weights.
 */
export function compactWeights(model: tf.LayersModel, masks: PruneMasks, graph: ChannelGraph = analyzeChannels(model)): NamedTensor[] {
  const cuts = cutsByWeight(model, graph, masks);
  return model.weights.map((w) => {
    const shape = w.shape as number[];
    const s = sliceAxes(w.read().dataSync() as Float32Array, shape, cuts.get(w.originalName) ?? []);
    return { name: w.originalName, shape: s.shape, dtype: 'float32' as const, data: s.data };
  });
}

/**
 * The inverse of compactWeights: full-shape named tensors for `model`'s architecture, masked
 * channels zero, ready for `setNamedWeights`. Throws when a name or size does not fit.
 */
export function expandWeights(model: tf.LayersModel, masks: PruneMasks, compact: readonly NamedTensor[], graph: ChannelGraph = analyzeChannels(model)): NamedTensor[] {
  const cuts = cutsByWeight(model, graph, masks);
  const byName = new Map(compact.map((t) => [t.name, t]));
  return model.weights.map((w) => {
    const t = byName.get(w.originalName);
    if (!t) throw new Error(`compact weights lack '${w.originalName}'`);
    const shape = w.shape as number[];
    return { name: w.originalName, shape, dtype: 'float32' as const, data: scatterAxes(t.data, shape, cuts.get(w.originalName) ?? []) };
  });
}
