import * as tf from '@tensorflow/tfjs';
import { crossEntropy, kdLoss, oneHotLabels, type KdOptions } from '../distill/losses.ts';
import { batchRanges, disposeBatch, makeBatch } from './batches.ts';
import { accuracy, classifierAuc } from './metrics.ts';
import type { Batch, ImageSet, Metrics, Task } from './types.ts';

/** Runs `model` over `set` in batches (inference mode) and returns its logits, N × outputs. */
export function predictLogits(model: tf.LayersModel, set: ImageSet, batchSize: number): Float32Array {
  const order = Array.from({ length: set.n }, (_, i) => i);
  const parts: Float32Array[] = [];
  for (const rows of batchRanges(order, batchSize)) {
    const b = makeBatch(set, rows);
    const out = tf.tidy(() => model.apply(b.x, { training: false }) as tf.Tensor);
    parts.push(out.dataSync() as Float32Array);
    out.dispose();
    disposeBatch(b);
  }
  const total = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    total.set(p, off);
    off += p.length;
  }
  return total;
}

/** Row-wise softmax of N × K logits, in float64 for the metrics. */
export function softmaxRows(logits: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i += k) {
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[i + c]);
    let z = 0;
    for (let c = 0; c < k; c++) z += Math.exp(logits[i + c] - m);
    for (let c = 0; c < k; c++) out[i + c] = Math.exp(logits[i + c] - m) / z;
  }
  return out;
}

/** Metrics of a classifier's logits: mean cross-entropy, AUC (Mann–Whitney) and accuracy. */
export function classificationMetrics(logits: ArrayLike<number>, labels: ArrayLike<number>, k: number): Metrics {
  const probs = softmaxRows(logits, k);
  let loss = 0;
  for (let i = 0; i < labels.length; i++) loss -= Math.log(Math.max(probs[i * k + labels[i]], 1e-12));
  return { loss: loss / Math.max(1, labels.length), n: labels.length, auc: classifierAuc(probs, labels, k), accuracy: accuracy(probs, labels, k) };
}

/**
 * Image classification. With a batch's teacher soft labels the loss is the Hinton KD loss
 * (distill/losses.ts); without them, plain cross-entropy on the hard labels. Early stopping
 * maximises AUC (or −loss when the validation set holds one class only).
 */
export function classificationTask(opts: { numClasses: number; kd?: KdOptions }): Task {
  const k = opts.numClasses;
  return {
    name: 'classification',
    // train/replicas.ts classificationLoss: this task's batchLoss, rebuilt in a replica's thread
    replicaLoss: { module: new URL('./replicas.ts', import.meta.url).href, factory: 'classificationLoss', options: { numClasses: k, ...(opts.kd ? { kd: opts.kd } : {}) } },
    batchLoss(model: tf.LayersModel, batch: Batch, training: boolean): tf.Scalar {
      return tf.tidy(() => {
        const logits = model.apply(batch.x, { training }) as tf.Tensor2D;
        if (batch.softLabels) return kdLoss(logits, batch.softLabels, batch.labels, opts.kd);
        return crossEntropy(oneHotLabels(batch.labels, k), logits);
      });
    },
    evaluate(model: tf.LayersModel, set: ImageSet, batchSize: number): Metrics {
      return classificationMetrics(predictLogits(model, set, batchSize), set.labels, k);
    },
    score(m: Metrics): number {
      return m.auc !== undefined && Number.isFinite(m.auc) ? m.auc : -m.loss;
    },
  };
}
