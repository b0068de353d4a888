import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { NamedTensor } from '../core/tensors.ts';

/**
 * A model's weights as named tensors, in `model.weights` order (trainable first, then the
 * non-trainable ones such as BN moving mean/variance). Names are the tfjs weight names as
 * written in a saved model (`stem/conv/kernel`), independent of how many models the
 * process has built. The data are copies.
 */
export function getNamedWeights(model: tf.LayersModel): NamedTensor[] {
  return model.weights.map((w) => ({
    name: w.originalName,
    shape: w.shape.map((d) => d ?? 1),
    dtype: 'float32' as const,
    data: Float32Array.from(w.read().dataSync() as Float32Array),
  }));
}

/**
 * Writes named tensors into a model's weights, matched by name. Throws a UserError, and
 * changes nothing, when a name is missing, unknown or repeated, or a shape differs.
 */
export function setNamedWeights(model: tf.LayersModel, tensors: readonly NamedTensor[]): void {
  const byName = new Map<string, NamedTensor>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new UserError(`weight '${t.name}' given twice`);
    byName.set(t.name, t);
  }
  const known = new Set(model.weights.map((w) => w.originalName));
  const unknown = [...byName.keys()].filter((n) => !known.has(n));
  if (unknown.length) throw new UserError(`weights not in model '${model.name}': ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
  for (const w of model.weights) {
    const t = byName.get(w.originalName);
    if (!t) throw new UserError(`weight '${w.originalName}' of model '${model.name}' is missing`);
    if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      throw new UserError(`weight '${w.originalName}': shape [${t.shape}] does not match the model's [${w.shape}]`);
    }
    if (t.data.length !== w.shape.reduce<number>((a, b) => a * (b ?? 1), 1)) throw new UserError(`weight '${w.originalName}': ${t.data.length} values for shape [${w.shape}]`);
  }
  for (const w of model.weights) {
    const t = byName.get(w.originalName) as NamedTensor;
    const v = tf.tensor(t.data, t.shape, 'float32');
    w.write(v);
    v.dispose();
  }
}
