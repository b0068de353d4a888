/** Messages between DataParallelTrainer (engine/data-parallel.ts) and its replicas. */

/** What a replica needs to rebuild the model: tfjs model artifacts held in memory. */
export interface ReplicaModel {
  modelTopology: object;
  weightSpecs: { name: string; shape: number[]; dtype: string }[];
  weightData: ArrayBuffer;
}

/** Main thread → replica. */
export type ToReplica =
  | { type: 'init'; model: ReplicaModel; backend: string; learningRate: number; task: 'classification' | 'segmentation' }
  | { type: 'data'; x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[] }
  | { type: 'grads' }
  | { type: 'apply'; flat: Float32Array }
  | { type: 'weights' };

/** Replica → main thread. */
export type FromReplica =
  | { type: 'ready'; backend: string; gradientSize: number }
  | { type: 'grads'; loss: number; flat: Float32Array }
  | { type: 'weights'; values: Float32Array[] }
  | { type: 'error'; message: string };
