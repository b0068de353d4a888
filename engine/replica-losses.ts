import * as tf from '@tensorflow/tfjs';
import type { ReplicaLoss, ReplicaLossSpec } from './data-parallel-protocol.ts';

/**
 * The engine's own replica loss (engine/data-parallel.ts): softmax cross-entropy on
 * [N, classes] logits or sigmoid cross-entropy on mask logits, against the shard's `y`
 * (one-hot or 0/1 masks), as the training benchmark uses.
 */
export function crossEntropyLoss(o: { task: 'classification' | 'segmentation' }): ReplicaLoss {
  return (model, shard) =>
    tf.tidy(() => {
      const out = model.apply(shard.x, { training: true }) as tf.Tensor;
      return o.task === 'segmentation' ? tf.losses.sigmoidCrossEntropy(shard.y, out) : tf.losses.softmaxCrossEntropy(shard.y, out);
    });
}

/** The spec naming crossEntropyLoss for a replica. */
export function crossEntropyLossSpec(task: 'classification' | 'segmentation'): ReplicaLossSpec {
  return { module: import.meta.url, factory: 'crossEntropyLoss', options: { task } };
}
