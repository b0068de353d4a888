import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import type { MaskHook } from '../prune/apply-masks.ts';
import type { LocalOptimizer } from './optimizer.ts';
import type { Batch, Task } from './types.ts';

/**
 * A pruning mask for one weight (issue 6's hook): entries multiplied by 0 are pruned. `shape`
 * broadcasts against the weight, e.g. [1, 1, 1, C] masks a conv kernel's output channels and
 * [C] the matching bias or BN parameters. After every step the masked weights and their
 * gradients are zero, so neither the update nor the optimiser's momentum revives them.
 */
export interface WeightMask {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The part of prune/'s MaskHook the loop calls: gradients keyed by variable name. */
export type MaskHookLike = Pick<MaskHook, 'applyToWeights' | 'maskGradients'>;

/** What one optimisation step needs besides the batch: built once per run by the loop. */
export interface StepContext {
  model: tf.LayersModel;
  task: Task;
  optimizer: LocalOptimizer;
  vars: tf.Variable[];
  /** FedProx anchor: the global weights (same order as vars) and μ (Li et al. 2020, arXiv:1812.06127). */
  proximal?: { mu: number; anchor: tf.Tensor[] };
  /** Mask tensors by index into vars (undefined = unmasked). */
  masks?: (tf.Tensor | undefined)[];
  /** prune/'s channel masks: gradients masked before the update, weights after it. */
  maskHook?: MaskHookLike;
  /** Called after every step, e.g. to clamp or re-mask weights a custom way. */
  afterStep?: (model: tf.LayersModel) => void;
}

/**
 * One step: loss (task loss + μ/2·Σ‖w − w_global‖² when proximal) and gradients, masked
 * gradients, the optimiser update at `lr`, then masked weights. Returns the batch loss.
 */
export function trainStep(ctx: StepContext, batch: Batch, lr: number): number {
  const varNames = ctx.vars.map((v) => v.name);
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const l = ctx.task.batchLoss(ctx.model, batch, true);
      if (!ctx.proximal || ctx.proximal.mu === 0) return l;
      const { mu, anchor } = ctx.proximal;
      const dist = tf.addN(ctx.vars.map((v, i) => tf.sum(tf.squaredDifference(v, anchor[i]))));
      return tf.add(l, tf.mul(dist, mu / 2)) as tf.Scalar;
    }, ctx.vars);
    const masked = ctx.maskHook ? ctx.maskHook.maskGradients(grads) : grads;
    const ordered = varNames.map((n, i) => {
      const g = masked[n];
      const m = ctx.masks?.[i];
      return m ? tf.mul(g, m) : g;
    });
    ctx.optimizer.step(ordered, lr);
    applyMasks(ctx);
    return value;
  });
  const v = loss.dataSync()[0];
  loss.dispose();
  ctx.afterStep?.(ctx.model);
  return v;
}

/** Zeroes the masked entries of the weights. */
export function applyMasks(ctx: Pick<StepContext, 'vars' | 'masks' | 'maskHook'>): void {
  ctx.maskHook?.applyToWeights();
  if (!ctx.masks) return;
  tf.tidy(() => ctx.vars.forEach((v, i) => {
    const m = ctx.masks?.[i];
    if (m) v.assign(tf.mul(v, m));
  }));
}

/** Mask tensors aligned with the model's trainable weights; throws on a mask naming no trainable weight. */
export function maskTensors(model: tf.LayersModel, masks: readonly WeightMask[] | undefined): (tf.Tensor | undefined)[] | undefined {
  if (!masks?.length) return undefined;
  const names = model.trainableWeights.map((w) => w.originalName);
  for (const m of masks) if (!names.includes(m.name)) throw new Error(`mask names ${m.name}, which is not a trainable weight`);
  return names.map((n) => {
    const m = masks.find((k) => k.name === n);
    return m ? tf.tensor(m.data, m.shape) : undefined;
  });
}

/** The named tensors as tf tensors in the order of the model's trainable weights (the FedProx anchor). */
export function anchorTensors(model: tf.LayersModel, weights: readonly NamedTensor[]): tf.Tensor[] {
  const byName = new Map(weights.map((w) => [w.name, w]));
  return model.trainableWeights.map((w) => {
    const t = byName.get(w.originalName);
    if (!t) throw new Error(`global weights have no tensor named ${w.originalName}`);
    return tf.tensor(t.data, t.shape);
  });
}
