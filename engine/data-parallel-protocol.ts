/** Messages between DataParallelTrainer (engine/data-parallel.ts) and its replicas. */
import type * as tf from '@tensorflow/tfjs';

/** What a replica needs to rebuild the model: tfjs model artifacts held in memory. */
export interface ReplicaModel {
  modelTopology: object;
  weightSpecs: { name: string; shape: number[]; dtype: string }[];
  weightData: ArrayBuffer;
}

/**
 * The loss a replica differentiates, named so a worker thread can build it: `module` (a file
 * URL) exports `factory`, a function of `options` (structured-cloneable) returning
 * `(model, shard) => scalar loss`, the mean over the shard's rows, in training mode.
 */
export interface ReplicaLossSpec {
  module: string;
  factory: string;
  options?: unknown;
}

/** The loss function a ReplicaLossSpec's factory returns. */
export type ReplicaLoss = (model: tf.LayersModel, shard: Record<string, tf.Tensor>) => tf.Scalar;

/** One array of a shard: its data, shape and dtype. */
export interface ShardArray {
  data: Float32Array | Int32Array;
  shape: number[];
}

/** A replica's part of a batch: named arrays (e.g. x, labels, softLabels), equal in rows. */
export type Shard = Record<string, ShardArray>;

/** Main thread → replica. */
export type ToReplica =
  | { type: 'init'; model: ReplicaModel; backend: string; loss: ReplicaLossSpec }
  /** Gradients of the loss on `shard`, after setting the trainable weights to `weights` (flat, in trainableWeights order) when given. */
  | { type: 'grads'; shard: Shard; weights?: Float32Array }
  /** The replica's non-trainable weights (batch-norm moving statistics). */
  | { type: 'state' };

/** Replica → main thread. */
export type FromReplica =
  | { type: 'ready'; backend: string; gradientSize: number }
  | { type: 'grads'; loss: number; flat: Float32Array }
  | { type: 'state'; values: Float32Array[] }
  | { type: 'error'; message: string };
