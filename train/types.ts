import type * as tf from '@tensorflow/tfjs';
import type { ReplicaLossSpec } from '../engine/data-parallel-protocol.ts';

/**
 * A labelled image set as train/ reads it: the shape data/'s `loadDataset` returns
 * (docs/CONTRACTS.md), so a loaded dataset passes straight in. Images are NHWC float32.
 */
export interface ImageSet {
  n: number;
  size: number;
  channels: number;
  /** N·H·W·C values, image after image. */
  x: Float32Array;
  /** N integer class labels. */
  labels: Int32Array;
  /** N·H·W mask values (non-zero = foreground), for segmentation. */
  masks?: Float32Array;
  /** Identifies the files and preprocessing; part of a checkpoint's key when present. */
  hash?: string;
}

/** One mini-batch as tensors; the loop owns and disposes them. */
export interface Batch {
  x: tf.Tensor4D;
  labels: tf.Tensor1D;
  /** Teacher logits for these rows [B, classes], when distilling. */
  softLabels?: tf.Tensor2D;
  /** Masks [B, H, W, 1] (0/1), for segmentation. */
  masks?: tf.Tensor4D;
}

/** Validation figures of one pass over a set; which are present depends on the task. */
export interface Metrics {
  /** Mean loss over the set (hard-label loss, never the KD loss). */
  loss: number;
  /** Rows evaluated. */
  n: number;
  auc?: number;
  accuracy?: number;
  dice?: number;
}

/**
 * What a training task supplies to the shared loop: the loss of a batch, the metrics of a
 * whole set, and the score early stopping maximises. Classification with KD and
 * segmentation (Dice + BCE) are the two built in; the few-shot mask decoder implements
 * the same interface.
 */
export interface Task {
  readonly name: string;
  /** How a data-parallel replica rebuilds batchLoss in its own thread (TrainConfig.replicas); absent: this task trains in one thread only. */
  readonly replicaLoss?: ReplicaLossSpec;
  /** Loss of a batch; `training` is passed to the model (batch-norm statistics, dropout). */
  batchLoss(model: tf.LayersModel, batch: Batch, training: boolean): tf.Scalar;
  /** Metrics of the model over a whole set, computed in batches. */
  evaluate(model: tf.LayersModel, set: ImageSet, batchSize: number): Metrics;
  /** Higher is better; early stopping and best-weight selection use it. */
  score(m: Metrics): number;
}
