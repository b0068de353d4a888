import * as tf from '@tensorflow/tfjs';
import type { Worker } from 'node:worker_threads';
import type { FromReplica, ReplicaModel, ToReplica } from './data-parallel-protocol.ts';
import { tsWorker } from '../core/ts-worker.ts';

/** Options of a data-parallel trainer. */
export interface DataParallelOptions {
  /** Worker threads, each with a full replica of the model (e.g. one per core). */
  replicas: number;
  /** tfjs backend each replica starts (as for initBackend). */
  backend?: string;
  learningRate?: number;
  task: 'classification' | 'segmentation';
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

/**
 * Synchronous data-parallel training over worker threads (as in PyTorch's
 * DistributedDataParallel): each replica computes gradients on its equal shard of the batch,
 * the main thread averages them, and every replica applies the same averaged gradient with
 * Adam, so the replicas stay identical. Batch-norm statistics are per shard, as in DDP
 * without SyncBatchNorm.
 */
export class DataParallelTrainer {
  private constructor(private readonly replicas: ReplicaHandle[], readonly backend: string) {}

  /** Starts `o.replicas` workers, each with a copy of `model` (topology and current weights). */
  static async create(model: tf.LayersModel, o: DataParallelOptions): Promise<DataParallelTrainer> {
    const artifacts = await artifactsOf(model);
    const url = new URL('./data-parallel-worker.ts', import.meta.url);
    const handles = Array.from({ length: o.replicas }, () => new ReplicaHandle(tsWorker(url)));
    const init: ToReplica = { type: 'init', model: artifacts, backend: o.backend ?? tf.getBackend(), learningRate: o.learningRate ?? 1e-3, task: o.task };
    const ready = await Promise.all(handles.map((h) => h.ask(init, 'ready')));
    return new DataParallelTrainer(handles, ready[0].backend);
  }

  /** Number of replicas. */
  get size(): number {
    return this.replicas.length;
  }

  /** Splits a batch (NHWC images, targets) into equal shards, one per replica; the batch must divide evenly. */
  setBatch(x: tf.Tensor, y: tf.Tensor): void {
    const n = x.shape[0];
    if (n % this.replicas.length !== 0) throw new Error(`batch ${n} does not split into ${this.replicas.length} equal shards`);
    const xs = tf.split(x, this.replicas.length);
    const ys = tf.split(y, this.replicas.length);
    this.replicas.forEach((h, i) => {
      const xd = xs[i].dataSync() as Float32Array;
      const yd = ys[i].dataSync() as Float32Array;
      h.post({ type: 'data', x: xd, xShape: xs[i].shape, y: yd, yShape: ys[i].shape });
    });
    tf.dispose([...xs, ...ys]);
  }

  /** One synchronous step; resolves with the mean loss over the replicas. */
  async step(): Promise<number> {
    const parts = await Promise.all(this.replicas.map((h) => h.ask({ type: 'grads' }, 'grads')));
    const mean = parts[0].flat;
    for (let r = 1; r < parts.length; r++) {
      const f = parts[r].flat;
      for (let i = 0; i < mean.length; i++) mean[i] += f[i];
    }
    const k = 1 / parts.length;
    for (let i = 0; i < mean.length; i++) mean[i] *= k;
    for (const h of this.replicas) h.post({ type: 'apply', flat: mean });
    return parts.reduce((s, p) => s + p.loss, 0) * k;
  }

  /** Copies replica 0's weights (including its batch-norm moving statistics) into `model`. */
  async copyWeightsTo(model: tf.LayersModel): Promise<void> {
    const { values } = await this.replicas[0].ask({ type: 'weights' }, 'weights');
    tf.tidy(() => model.setWeights(model.weights.map((w, i) => tf.tensor(values[i], w.shape as number[]))));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.replicas.map((h) => h.worker.terminate()));
  }
}
