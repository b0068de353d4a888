import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { warn } from '../core/log.ts';
import { UserError } from '../core/errors.ts';
import { OverloadError } from './batcher.ts';
import type { DecodeWorkerData, DecodeWorkerJob, DecodeWorkerReply } from './decode-worker.ts';
import type { PrepareJob, PreparedImage } from './prepare.ts';
import { tsWorker } from '../core/ts-worker.ts';

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

/** One worker thread, whether its module has loaded, and the ids of the jobs it holds. */
interface Slot {
  worker: Worker;
  ready: boolean;
  jobs: Set<number>;
}

/**
 * Image decoding and preprocessing for the server, off the event loop: a pool of worker
 * threads, each running the same PrepareImage as the in-thread path (the module named in the
 * options). Posted bytes are transferred to the worker, and the model input back, so nothing
 * is copied. User errors come back as UserError (HTTP 400); a full queue is an OverloadError.
 * A worker that dies fails only the jobs it held, and a fresh one takes its place.
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private readonly queue: DecodeWorkerJob[] = [];
  private readonly maxQueue: number;
  private readonly workerData: DecodeWorkerData;
  private nextId = 0;
  private closed = false;

  private constructor(opts: DecodePoolOptions) {
    this.maxQueue = opts.maxQueue ?? 1024;
    this.workerData = { module: opts.module, options: opts.options };
  }

  /** Starts the workers and waits until each has loaded its module; throws what a worker threw while loading. */
  static async start(opts: DecodePoolOptions): Promise<DecodePool> {
    const pool = new DecodePool(opts);
    const n = Math.max(1, opts.size ?? availableParallelism());
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => pool.spawn(i)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Starts the worker of slot `i`; resolves once its module has loaded. */
  private spawn(i: number): Promise<void> {
    const worker = tsWorker(new URL('./decode-worker.ts', import.meta.url), { workerData: this.workerData });
    const slot: Slot = { worker, ready: false, jobs: new Set() };
    this.slots[i] = slot;
    return new Promise((resolve, reject) => {
      worker.once('message', () => {
        slot.ready = true;
        worker.on('message', (r: DecodeWorkerReply) => this.settle(slot, r));
        worker.on('exit', (code) => this.replace(i, slot, new Error(`decode worker exited with code ${code}`)));
        resolve();
        this.pump();
      });
      worker.once('error', (e) => (slot.ready ? this.replace(i, slot, e) : reject(e)));
    });
  }

  /** A worker died: its jobs fail, and unless the pool is closing a new worker takes the slot. */
  private replace(i: number, slot: Slot, e: Error): void {
    if (this.slots[i] !== slot) return;
    slot.ready = false;
    for (const id of slot.jobs) this.finish(id)?.reject(e);
    slot.jobs.clear();
    if (this.closed) return;
    warn(`${e.message}; starting a new one`);
    this.spawn(i).catch((err: unknown) => warn(`a decode worker failed to start: ${err instanceof Error ? err.message : err}`));
  }

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  /** Decodes and prepares one request's image on some worker. The job's bytes are transferred: do not use them afterwards. */
  run(job: PrepareJob): Promise<PreparedImage> {
    if (this.closed) return Promise.reject(new Error('decode pool closed'));
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
      let best: Slot | undefined;
      for (const s of this.slots) if (s?.ready && (!best || s.jobs.size < best.jobs.size)) best = s;
      if (!best || best.jobs.size >= PIPELINE_DEPTH) return;
      const job = this.queue.shift() as DecodeWorkerJob;
      best.jobs.add(job.id);
      const own = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength && job.bytes.buffer instanceof ArrayBuffer;
      best.worker.postMessage(job, own ? [job.bytes.buffer as ArrayBuffer] : []);
    }
  }

  private finish(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    return w;
  }

  private settle(slot: Slot, r: DecodeWorkerReply): void {
    slot.jobs.delete(r.id);
    const w = this.finish(r.id);
    if (w) {
      if (r.ok) w.resolve(r.result);
      else w.reject(r.user ? new UserError(r.message) : new Error(r.message));
    }
    this.pump();
  }

  /** Stops the workers; jobs not yet answered are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const e = new Error('decode pool closed');
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    this.queue.length = 0;
    await Promise.all(this.slots.filter(Boolean).map((s) => s.worker.terminate()));
  }
}
