import * as tf from '@tensorflow/tfjs';

/** Settings of the Hinton knowledge-distillation loss. */
export interface KdOptions {
  /** Softmax temperature T applied to both teacher and student logits (default 4). */
  temperature?: number;
  /** Weight α of the soft (distillation) term; the hard cross-entropy gets 1 − α (default 0.7). */
  alpha?: number;
}

/** Default temperature of the KD loss (Hinton et al. 2015 use values of 2–20; 4 is common for small students). */
export const DEFAULT_TEMPERATURE = 4;
/** Default weight of the soft term. */
export const DEFAULT_ALPHA = 0.7;

/** Integer class labels as one-hot float32 rows of `numClasses`. */
export function oneHotLabels(labels: tf.Tensor1D, numClasses: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(labels.toInt(), numClasses).toFloat() as tf.Tensor2D);
}

/**
 * Row-wise log-softmax, computed as z − max(z) − log Σ exp(z − max(z)) so large logits
 * neither overflow nor lose precision.
 */
export function logSoftmax(logits: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const shifted = tf.sub(logits, tf.max(logits, 1, true));
    return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true))) as tf.Tensor2D;
  });
}

/** Mean cross-entropy −Σ y·log softmax(s) between one-hot (or soft) targets `y` and logits `s`. */
export function crossEntropy(targets: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(targets, logSoftmax(logits)), 1))) as tf.Scalar);
}

/**
 * Mean KL(softmax(t/T) ‖ softmax(s/T)) = Σ p_t (log p_t − log p_s) over the batch.
 * Rows with p_t = 0 contribute 0 (exp of log-softmax underflows to exactly 0·finite).
 */
export function kdDivergence(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  return tf.tidy(() => {
    const logPt = logSoftmax(tf.div(teacherLogits, temperature) as tf.Tensor2D);
    const logPs = logSoftmax(tf.div(studentLogits, temperature) as tf.Tensor2D);
    return tf.mean(tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), 1)) as tf.Scalar;
  });
}

/**
 * The Hinton knowledge-distillation loss (Hinton, Vinyals & Dean 2015, "Distilling the
 * Knowledge in a Neural Network", arXiv:1503.02531):
 * α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(y, s), averaged over the batch.
 * The T² factor keeps the soft term's gradients on the scale of the hard term's.
 * Works for any number of classes ≥ 2 (binary tasks use 2 logits).
 */
export function kdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  labels: tf.Tensor1D,
  opts: KdOptions = {},
): tf.Scalar {
  const T = opts.temperature ?? DEFAULT_TEMPERATURE;
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  if (!(T > 0)) throw new Error(`KD temperature must be > 0, got ${T}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`KD alpha must be in [0, 1], got ${alpha}`);
  const k = studentLogits.shape[1];
  if (teacherLogits.shape[1] !== k) throw new Error(`teacher gives ${teacherLogits.shape[1]} logits, student ${k}`);
  return tf.tidy(() => {
    const hard = crossEntropy(oneHotLabels(labels, k), studentLogits);
    const soft = kdDivergence(teacherLogits, studentLogits, T);
    return tf.add(tf.mul(soft, alpha * T * T), tf.mul(hard, 1 - alpha)) as tf.Scalar;
  });
}
