import * as tf from '@tensorflow/tfjs';
import { overrideGradient, type GradientOverride } from './gradient-override.ts';

let override: GradientOverride | undefined;

/**
 * Replaces the Mean gradient: dx = broadcast(dy / n) as one Tile of the small reduced tensor,
 * instead of tfjs's dy · ones(x.shape) / n (a Fill, a broadcasting Multiply and a RealDiv over
 * the full input). Batch-norm moments take two means per layer per step. Same values;
 * idempotent.
 */
export function registerMeanGradient(): void {
  override ??= overrideGradient(tf.Mean, () => (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    const expanded = x.shape.map((s, i) => (axes.includes(i) ? 1 : s));
    return { x: () => tf.broadcastTo(tf.reshape(tf.div(dy as tf.Tensor, n), expanded), x.shape) };
  });
}
