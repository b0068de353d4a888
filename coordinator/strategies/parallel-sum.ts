import type { Worker } from 'node:worker_threads';
import { warn } from '../../core/log.ts';
import { awaitChunks, claimChunks, FAILED, makeJob, type Segment } from './sum-job.ts';
import { sumPasses } from './sum-passes.ts';
import { tsWorker } from '../../core/ts-worker.ts';

/** Below this many elements in all, a job stays on the calling thread (posting it costs more than it saves). */
export const PARALLEL_MIN_ELEMENTS = 1 << 20;

/** How long the caller waits for the worker's chunk in flight, without progress, before it gives the worker up. */
const STALL_MS = 10_000;

/** True if `a` is a view on a SharedArrayBuffer (so a worker thread can read or write it in place). */
export function isShared(a: Float32Array): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/**
 * Weighted sums split between the calling thread and one persistent worker thread over
 * SharedArrayBuffer-backed arrays, for FedAvg on a two-core coordinator. The API stays
 * synchronous: the job is posted, the caller sums chunks itself, then waits with Atomics.wait
 * for the chunk the worker may still hold. The worker starts on first use, is unref()'d (it
 * never keeps the process alive), and while it boots the caller simply does every chunk.
 * If the worker fails (it cannot start, its kernel throws, or it stalls), the pool warns
 * once and every later sum runs on the calling thread; a failed job is recomputed there.
 */
export class SumPool {
  private worker: Worker | null = null;
  private failed = false;
  private loaded: Promise<boolean> | null = null;

  /** `entry`: the worker's TypeScript module (tests pass one that fails). */
  constructor(private readonly entry: URL = new URL('./sum-worker.ts', import.meta.url)) {}

  /** False once the worker has failed: every sum then runs on the calling thread. */
  get usable(): boolean {
    return !this.failed;
  }

  /** Starts the worker if need be; resolves true once it has loaded, false if it failed (benches and tests wait on this). */
  ready(): Promise<boolean> {
    if (!this.failed) this.start();
    return this.loaded ?? Promise.resolve(false);
  }

  /**
   * segment.out = Σ_k weights[k] · segment.arrays[k] for every segment, lengths unchecked
   * (callers check), each element computed by sumPasses. Every array must be SharedArrayBuffer-backed.
   * Returns how many chunks the worker summed (0 when it was busy, still loading or has failed).
   */
  sum(segments: readonly Segment[], weights: readonly number[]): number {
    const worker = this.failed ? null : this.start();
    if (!worker) {
      for (const s of segments) sumPasses(s.arrays, weights, s.out);
      return 0;
    }
    const job = makeJob(segments, weights);
    worker.postMessage(job);
    const mine = claimChunks(job);
    const finished = awaitChunks(job, STALL_MS);
    if (!finished || Atomics.load(job.ctl, FAILED) === 1) {
      this.fail(finished ? 'its kernel threw' : `no progress in ${STALL_MS / 1000} s`);
      for (const s of segments) sumPasses(s.arrays, weights, s.out);
    }
    return job.chunks.length / 3 - mine;
  }

  /** Stops the worker (tests; the process never waits for it anyway). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failed = true;
    await w?.terminate();
  }

  private start(): Worker | null {
    if (this.worker) return this.worker;
    try {
      const w = tsWorker(this.entry);
      w.unref();
      this.loaded = new Promise((resolve) => {
        w.once('message', () => resolve(true));
        w.on('error', (e) => {
          this.fail(e.message);
          resolve(false);
        });
        w.on('exit', (code) => {
          if (this.worker === w) this.fail(`it exited with code ${code}`);
          resolve(false);
        });
      });
      this.worker = w;
      return w;
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
      return null;
    }
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = true;
    warn(`aggregation worker thread failed (${why}); summing on one thread from now on`);
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
  }
}

let shared: SumPool | null = null;

/** The process's pool, created on first use. */
export function sumPool(): SumPool {
  shared ??= new SumPool();
  return shared;
}
