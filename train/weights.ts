import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';

/** A model's weights as named tensors, in `model.weights` order, BN statistics included (docs/CONTRACTS.md). */
export function readWeights(model: tf.LayersModel): NamedTensor[] {
  return model.weights.map((w) => {
    const t = w.read();
    return { name: w.originalName, shape: [...t.shape], dtype: 'float32' as const, data: Float32Array.from(t.dataSync() as Float32Array) };
  });
}

/** Assigns named tensors to a model's weights by name; throws on a missing name or a shape mismatch. */
export function writeWeights(model: tf.LayersModel, tensors: readonly NamedTensor[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const values = model.weights.map((w) => {
    const t = byName.get(w.originalName);
    if (!t) throw new Error(`weights have no tensor named ${w.originalName}`);
    if (t.shape.join('x') !== w.shape.join('x')) throw new Error(`weight ${w.originalName}: got shape [${t.shape}], model has [${w.shape}]`);
    return tf.tensor(t.data, t.shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

/** The trainable variables of a model, in order, for gradient computation. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
