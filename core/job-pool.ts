import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { UserError } from './errors.ts';
import type { JobReply } from './job-worker.ts';
import { warn } from './log.ts';
import { tsWorker } from './ts-worker.ts';

/** How a JobPool is set up. */
export interface JobPoolOptions {
  /** The worker module (core/ts-worker.ts starts it); it answers with core/job-worker.ts serveJobs. */
  worker: URL;
  /** The worker's `workerData` (structured-cloned). */
  workerData?: unknown;
  /** Worker threads (default: one per core). */
  size?: number;
  /** Jobs each worker holds at once, so it never idles waiting on this thread between jobs. */
  depth: number;
  /** Jobs waiting for a worker beyond this many are refused with `overload`'s error (default: no limit). */
  maxQueue?: number;
  overload?: (queued: number, max: number) => Error;
  /** Names the pool in errors and warnings ("decode", "preprocessing"). */
  name: string;
}

interface Waiting<R> {
  resolve(r: R): void;
  reject(e: Error): void;
}

/** One worker thread, whether its module has loaded, and the ids of the jobs it holds. */
interface Slot {
  worker: Worker;
  ready: boolean;
  jobs: Set<number>;
}

interface Queued<J> {
  id: number;
  job: J;
  transfer: ArrayBuffer[];
}

/**
 * Jobs run on a pool of worker threads: each goes to the least-busy worker that has loaded,
 * at most `depth` at a time per worker; results come back with their buffers transferred. A
 * worker's user error comes back as a UserError. A worker that dies fails only the jobs it
 * held, and a fresh one takes its place; one that cannot even load fails every job, as it
 * would fail every replacement.
 */
export class JobPool<J extends object, R> {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, Waiting<R>>();
  private readonly queue: Queued<J>[] = [];
  private readonly loaded: Promise<void>[];
  private nextId = 0;
  private closed = false;
  private broken: Error | undefined;

  /** Starts the workers; jobs wait until a worker has loaded. Use `start` to learn of a worker that fails to load before the first job. */
  constructor(private readonly opts: JobPoolOptions) {
    const n = Math.max(1, opts.size ?? availableParallelism());
    this.loaded = Array.from({ length: n }, (_, i) => this.spawn(i));
    for (const p of this.loaded) p.catch(() => undefined);
  }

  /** A pool whose every worker has loaded; throws what a worker threw while loading. */
  static async start<J extends object, R>(opts: JobPoolOptions): Promise<JobPool<J, R>> {
    const pool = new JobPool<J, R>(opts);
    try {
      await Promise.all(pool.loaded);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  /** Runs `job` on some worker, transferring `transfer` with it (do not use those buffers afterwards). */
  run(job: J, transfer: ArrayBuffer[] = []): Promise<R> {
    if (this.closed) return Promise.reject(new Error(`${this.opts.name} pool closed`));
    if (this.broken) return Promise.reject(this.broken);
    const max = this.opts.maxQueue ?? Infinity;
    if (this.queue.length >= max) return Promise.reject(this.opts.overload?.(this.queue.length, max) ?? new Error(`${this.opts.name} pool: ${this.queue.length} jobs queued (limit ${max})`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.queue.push({ id, job, transfer });
      this.pump();
    });
  }

  /** Stops the workers; jobs not yet answered are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error(`${this.opts.name} pool closed`));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  /** Starts the worker of slot `i`; resolves once its module has loaded (its first message). */
  private spawn(i: number): Promise<void> {
    const worker = tsWorker(this.opts.worker, { workerData: this.opts.workerData });
    const slot: Slot = { worker, ready: false, jobs: new Set() };
    this.slots[i] = slot;
    return new Promise((resolve, reject) => {
      worker.once('message', () => {
        slot.ready = true;
        worker.on('message', (r: JobReply<R>) => this.settle(slot, r));
        worker.on('exit', (code) => this.replace(i, slot, new Error(`${this.opts.name} worker exited with code ${code}`)));
        resolve();
        this.pump();
      });
      worker.once('error', (e) => {
        if (slot.ready) return this.replace(i, slot, e);
        this.broken ??= e;
        this.failAll(e);
        reject(e);
      });
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
    this.spawn(i).catch((err: unknown) => warn(`a ${this.opts.name} worker failed to start: ${err instanceof Error ? err.message : String(err)}`));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) if (s?.ready && (!best || s.jobs.size < best.jobs.size)) best = s;
      if (!best || best.jobs.size >= this.opts.depth) return;
      const q = this.queue.shift() as Queued<J>;
      best.jobs.add(q.id);
      best.worker.postMessage({ id: q.id, job: q.job }, q.transfer);
    }
  }

  private finish(id: number): Waiting<R> | undefined {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    return w;
  }

  private settle(slot: Slot, r: JobReply<R>): void {
    slot.jobs.delete(r.id);
    const w = this.finish(r.id);
    if (w) {
      if (r.ok) w.resolve(r.result);
      else w.reject(r.user ? new UserError(r.message) : new Error(r.message));
    }
    this.pump();
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    this.queue.length = 0;
  }
}
