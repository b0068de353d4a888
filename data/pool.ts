import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { UserError } from '../core/errors.ts';
import type { PreprocessConfig } from './preprocess/config.ts';
import type { PreprocessedItem } from './preprocess/file.ts';
import type { WorkerJob, WorkerReply } from './worker.ts';
import { tsWorker } from '../core/ts-worker.ts';

/** Jobs each worker holds at once, so it never waits on the main thread between images. */
const PIPELINE_DEPTH = 4;

/**
 * A pool of worker threads that decode and preprocess images in parallel (data/worker.ts,
 * started by core/ts-worker.ts, which registers tsx in the thread).
 * Jobs go to the least-busy worker; results come back with their buffers transferred.
 */
export class PreprocessPool {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly waiting = new Map<number, { resolve: (r: PreprocessedItem) => void; reject: (e: Error) => void }>();
  private readonly queue: WorkerJob[] = [];
  private nextId = 0;

  /** Starts `size` workers (default: one per core). */
  constructor(size = availableParallelism()) {
    for (let i = 0; i < Math.max(1, size); i++) {
      const w = tsWorker(new URL('./worker.ts', import.meta.url));
      w.on('message', (r: WorkerReply) => this.settle(i, r));
      w.on('error', (e) => this.failAll(e));
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  /** Number of worker threads. */
  get size(): number {
    return this.workers.length;
  }

  /** Decodes and preprocesses one file (and mask) on some worker. */
  run(file: string, mask: string | null, cfg: PreprocessConfig): Promise<PreprocessedItem> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.queue.push({ id, file, mask, cfg });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best = 0;
      for (let i = 1; i < this.busy.length; i++) if (this.busy[i] < this.busy[best]) best = i;
      if (this.busy[best] >= PIPELINE_DEPTH) return;
      const job = this.queue.shift() as WorkerJob;
      this.busy[best]++;
      this.workers[best].postMessage(job);
    }
  }

  private settle(worker: number, r: WorkerReply): void {
    this.busy[worker]--;
    const w = this.waiting.get(r.id);
    this.waiting.delete(r.id);
    if (w) {
      if (r.ok) w.resolve({ x: r.x, mask: r.mask, decodes: r.decodes });
      else w.reject(r.user ? new UserError(r.message) : new Error(r.message));
    }
    this.pump();
  }

  private failAll(e: Error): void {
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
