import * as tf from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import type { FromReplica, ReplicaLossSpec, ReplicaModel, Shard, ToReplica } from './data-parallel-protocol.ts';
import { tsWorker } from '../core/ts-worker.ts';

/** Options of a data-parallel trainer. */
export interface DataParallelOptions {
  /** Worker threads, each with a full replica of the model (e.g. one per core). */
  replicas: number;
  /** tfjs backend each replica starts (as for initBackend). */
  backend?: string;
  /** The loss each replica differentiates (a module and factory a worker thread can import). */
  loss: ReplicaLossSpec;
}

class ReplicaHandle {
  private waiting: ((m: FromReplica) => void)[] = [];
  private failure: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (m: FromReplica) => {
      if (m.type === 'error') this.fail(new Error(`replica failed: ${m.message}`));
      else this.waiting.shift()?.(m);
    });
    worker.on('error', (e) => this.fail(e));
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const w of this.waiting.splice(0)) w({ type: 'error', message: e.message });
  }

  post(m: ToReplica, transfer: ArrayBuffer[] = []): void {
    if (this.failure) throw this.failure;
    this.worker.postMessage(m, transfer);
  }

  /** Posts a request and resolves with the reply of the expected type. */
  ask<T extends FromReplica['type']>(m: ToReplica, type: T, transfer: ArrayBuffer[] = []): Promise<Extract<FromReplica, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push((r) => (r.type === type ? resolve(r as Extract<FromReplica, { type: T }>) : reject(this.failure ?? new Error(`expected ${type}, got ${r.type}`))));
      try {
        this.post(m, transfer);
      } catch (e) {
        reject(e);
      }
    });
  }
}

async function artifactsOf(model: tf.LayersModel): Promise<ReplicaModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  if (!saved?.weightData || !saved.weightSpecs) throw new Error('model artifacts without weights');
  const data = saved.weightData;
  const weightData = data instanceof ArrayBuffer ? data : tf.io.concatenateArrayBuffers(data);
  return { modelTopology: saved.modelTopology as object, weightSpecs: saved.weightSpecs, weightData };
}

/** [first row, rows] of each of at most `replicas` shards of a batch of `n` rows, as equal as can be (larger shards first). */
export function shardRows(n: number, replicas: number): [number, number][] {
  const k = Math.min(n, replicas);
  const out: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < k; i++) {
    const rows = Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push([from, rows]);
    from += rows;
  }
  return out;
}

/** The values of `tensors` as one flat array, in order (how weights and gradients cross to and from replicas). */
export function flatten(tensors: readonly tf.Tensor[]): Float32Array<ArrayBuffer> {
  const flat = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let o = 0;
  for (const t of tensors) {
    flat.set(t.dataSync() as Float32Array, o);
    o += t.size;
  }
  return flat;
}

/** A flat array (flatten's) as one tensor per entry of `shapes`, in order. The caller disposes them. */
export function unflatten(flat: Float32Array, shapes: readonly { size: number; shape: number[] }[]): tf.Tensor[] {
  let o = 0;
  return shapes.map((v) => {
    const t = tf.tensor(flat.subarray(o, o + v.size), v.shape);
    o += v.size;
    return t;
  });
}

/** The trainable weights of `model` as one flat array, in trainableWeights order (what replicas take). */
export function flatTrainableWeights(model: tf.LayersModel): Float32Array {
  return flatten(model.trainableWeights.map((w) => w.read()));
}

/**
 * Synchronous data-parallel gradients over worker threads (as in PyTorch's
 * DistributedDataParallel, with the main thread as parameter server): each replica holds a
 * copy of the model, takes the main thread's current trainable weights with its shard of the
 * batch, and returns the gradients of its loss; the main thread averages them, weighted by
 * shard rows, and applies the update with its own optimiser, so every feature of its training
 * loop (schedule, weight decay, masks, proximal term) holds unchanged. Batch-norm statistics
 * are per shard, as in DDP without SyncBatchNorm; the moving statistics are replica 0's
 * (copyStateTo).
 */
export class DataParallelTrainer {
  private constructor(private readonly replicas: ReplicaHandle[], readonly backend: string, readonly gradientSize: number) {}

  /** Starts `o.replicas` workers, each with a copy of `model` (topology and current weights). */
  static async create(model: tf.LayersModel, o: DataParallelOptions): Promise<DataParallelTrainer> {
    const artifacts = await artifactsOf(model);
    const url = new URL('./data-parallel-worker.ts', import.meta.url);
    const handles = Array.from({ length: o.replicas }, () => new ReplicaHandle(tsWorker(url)));
    const init: ToReplica = { type: 'init', model: artifacts, backend: o.backend ?? tf.getBackend(), loss: o.loss };
    try {
      const ready = await Promise.all(handles.map((h) => h.ask(init, 'ready')));
      return new DataParallelTrainer(handles, ready[0].backend, ready[0].gradientSize);
    } catch (e) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw e;
    }
  }

  /** Number of replicas. */
  get size(): number {
    return this.replicas.length;
  }

  /**
   * One synchronous step's gradients: shard i goes to replica i (at most `size` shards, each
   * with a `rows` count), after the replicas set their trainable weights to `weights` when
   * given. Resolves with the row-weighted mean loss and the row-weighted mean gradient, flat
   * in trainableWeights order: over shards of one batch, the gradient of the batch's mean loss.
   */
  async gradients(shards: readonly { shard: Shard; rows: number }[], weights?: Float32Array): Promise<{ loss: number; flat: Float32Array }> {
    if (shards.length === 0 || shards.length > this.replicas.length) throw new Error(`${shards.length} shards for ${this.replicas.length} replicas`);
    const parts = await Promise.all(shards.map((s, i) => this.replicas[i].ask({ type: 'grads', shard: s.shard, ...(weights ? { weights } : {}) }, 'grads')));
    const total = shards.reduce((n, s) => n + s.rows, 0);
    const flat = parts[0].flat;
    const w0 = shards[0].rows / total;
    for (let i = 0; i < flat.length; i++) flat[i] *= w0;
    for (let r = 1; r < parts.length; r++) {
      const f = parts[r].flat;
      const w = shards[r].rows / total;
      for (let i = 0; i < flat.length; i++) flat[i] += w * f[i];
    }
    return { loss: parts.reduce((s, p, i) => s + (p.loss * shards[i].rows) / total, 0), flat };
  }

  /** Copies replica 0's non-trainable weights (batch-norm moving statistics) into `model`. */
  async copyStateTo(model: tf.LayersModel): Promise<void> {
    const { values } = await this.replicas[0].ask({ type: 'state' }, 'state');
    tf.tidy(() => model.nonTrainableWeights.forEach((w, i) => w.write(tf.tensor(values[i], w.shape as number[]))));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.replicas.map((h) => h.worker.terminate()));
  }
}
