import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../core/errors.ts';
import { OverloadError } from './batcher.ts';
import type { DecodeWorkerData, DecodeWorkerJob, DecodeWorkerReply } from './decode-worker.ts';
import type { PrepareJob, PreparedImage } from './prepare.ts';

/** How a DecodePool is set up. */
export interface DecodePoolOptions {
  /** URL of a module exporting `createPrepare(options)` (see decode-worker.ts); loaded in every worker. */
  module: string;
  /** Passed to `createPrepare` in each worker (structured-cloned). */
  options?: unknown;
  /** Worker threads (default: one per core). */
  size?: number;
  /** Jobs waiting for a worker beyond this many are refused with an OverloadError (default 1024). */
  maxQueue?: number;
}

/** Jobs each worker holds at once, so it never idles waiting on the event loop between images. */
const PIPELINE_DEPTH = 2;

interface Waiting {
  resolve(r: PreparedImage): void;
  reject(e: Error): void;
}

/**
 * Image decoding and preprocessing for the server, off the event loop: a pool of worker
 * threads, each running the same PrepareImage as the in-thread path (the module named in the
 * options). Posted bytes are transferred to the worker, and the model input back, so nothing
 * is copied. User errors come back as UserError (HTTP 400); a full queue is an OverloadError.
 */
export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private readonly queue: DecodeWorkerJob[] = [];
  private readonly maxQueue: number;
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(opts: DecodePoolOptions) {
    this.maxQueue = opts.maxQueue ?? 1024;
  }

  /** Starts the workers and waits until each has loaded its module; throws what a worker threw while loading. */
  static async start(opts: DecodePoolOptions): Promise<DecodePool> {
    const pool = new DecodePool(opts);
    const workerData: DecodeWorkerData = { module: opts.module, options: opts.options };
    const ready: Promise<void>[] = [];
    for (let i = 0; i < Math.max(1, opts.size ?? availableParallelism()); i++) {
      const w = new Worker(new URL('./decode-worker-entry.js', import.meta.url), { workerData });
      ready.push(
        new Promise((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
      );
      pool.workers.push(w);
      pool.busy.push(0);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    pool.workers.forEach((w, i) => {
      w.on('message', (r: DecodeWorkerReply) => pool.settle(i, r));
      w.on('error', (e) => pool.failAll(e));
      w.on('exit', (code) => pool.failAll(new Error(`decode worker exited with code ${code}`)));
    });
    return pool;
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  /** Decodes and prepares one request's image on some worker. The job's bytes are transferred: do not use them afterwards. */
  run(job: PrepareJob): Promise<PreparedImage> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.queue.length >= this.maxQueue) return Promise.reject(new OverloadError(this.queue.length, this.maxQueue));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.queue.push({ id, ...job });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.busy.length; i++) if (this.busy[i] < this.busy[best]) best = i;
      if (this.busy[best] >= PIPELINE_DEPTH) return;
      const job = this.queue.shift() as DecodeWorkerJob;
      this.busy[best]++;
      const own = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength && job.bytes.buffer instanceof ArrayBuffer;
      this.workers[best].postMessage(job, own ? [job.bytes.buffer as ArrayBuffer] : []);
    }
  }

  private settle(worker: number, r: DecodeWorkerReply): void {
    this.busy[worker]--;
    const w = this.waiting.get(r.id);
    this.waiting.delete(r.id);
    if (w) {
      if (r.ok) w.resolve(r.result);
      else w.reject(r.user ? new UserError(r.message) : new Error(r.message));
    }
    this.pump();
  }

  private failAll(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    this.queue.length = 0;
  }

  /** Stops the workers; pending jobs are rejected. */
  async close(): Promise<void> {
    this.failAll(new Error('decode pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
