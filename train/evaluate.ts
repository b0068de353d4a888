import type * as tf from '@tensorflow/tfjs';
import { classificationTask } from './classification.ts';
import type { ImageSet } from './types.ts';

/** Batch size for evaluation passes. */
export const EVAL_BATCH_SIZE = 64;

/** A classifier's figures on a dataset. */
export interface Evaluation {
  auc: number;
  accuracy: number;
  loss: number;
  n: number;
}

/**
 * Evaluates a classifier (logits output) on a dataset: AUC by Mann–Whitney (class 1 for
 * binary tasks, macro one-vs-rest otherwise), accuracy and mean cross-entropy.
 */
export function evaluate(model: tf.LayersModel, set: ImageSet, batchSize = EVAL_BATCH_SIZE): Evaluation {
  const shape = model.outputs[0].shape;
  const numClasses = shape[shape.length - 1] ?? 2;
  const m = classificationTask({ numClasses }).evaluate(model, set, batchSize);
  return { auc: m.auc ?? NaN, accuracy: m.accuracy ?? NaN, loss: m.loss, n: m.n };
}
