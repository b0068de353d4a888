import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import { flatTrainableWeights, unflatten, type DataParallelTrainer } from '../engine/data-parallel.ts';
import type { Shard } from '../engine/data-parallel-protocol.ts';
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
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const l = ctx.task.batchLoss(ctx.model, batch, true);
      if (!ctx.proximal || ctx.proximal.mu === 0) return l;
      const { mu, anchor } = ctx.proximal;
      const dist = tf.addN(ctx.vars.map((v, i) => tf.sum(tf.squaredDifference(v, anchor[i]))));
      return tf.add(l, tf.mul(dist, mu / 2)) as tf.Scalar;
    }, ctx.vars);
    update(ctx, grads, lr);
    return value;
  });
  const v = loss.dataSync()[0];
  loss.dispose();
  ctx.afterStep?.(ctx.model);
  return v;
}

/**
 * The same step with the task loss's gradients computed by data-parallel replicas on the
 * batch's shards (DataParallelTrainer, sent this thread's current weights): the proximal
 * term's gradient μ(w − w_global) is added here, then masks, the update and masked weights as
 * in trainStep. Returns the batch loss.
 */
export async function trainStepOnReplicas(ctx: StepContext, replicas: DataParallelTrainer, shards: readonly { rows: number; shard: Shard }[], lr: number): Promise<number> {
  const { loss, flat } = await replicas.gradients(shards, flatTrainableWeights(ctx.model));
  const prox = tf.tidy(() => {
    const grads: tf.NamedTensorMap = Object.fromEntries(unflatten(flat, ctx.vars).map((g, i) => [ctx.vars[i].name, g]));
    let dist = 0;
    if (ctx.proximal && ctx.proximal.mu !== 0) {
      const { mu, anchor } = ctx.proximal;
      ctx.vars.forEach((v, i) => (grads[v.name] = tf.add(grads[v.name], tf.mul(tf.sub(v, anchor[i]), mu))));
      dist = (mu / 2) * tf.addN(ctx.vars.map((v, i) => tf.sum(tf.squaredDifference(v, anchor[i])))).dataSync()[0];
    }
    update(ctx, grads, lr);
    return dist;
  });
  ctx.afterStep?.(ctx.model);
  return loss + prox;
}

/** Masked gradients (by variable name), the optimiser update at `lr`, then masked weights. */
function update(ctx: StepContext, grads: tf.NamedTensorMap, lr: number): void {
  const masked = ctx.maskHook ? ctx.maskHook.maskGradients(grads) : grads;
  const ordered = ctx.vars.map((v, i) => {
    const g = masked[v.name];
    const m = ctx.masks?.[i];
    return m ? tf.mul(g, m) : g;
  });
  ctx.optimizer.step(ordered, lr);
  applyMasks(ctx);
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
