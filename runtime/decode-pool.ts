import { JobPool } from '../core/job-pool.ts';
import { OverloadError } from './batcher.ts';
import type { DecodeWorkerData } from './decode-worker.ts';
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

/**
 * Image decoding and preprocessing for the server, off the event loop: a pool of worker
 * threads (core/job-pool.ts), each running the same PrepareImage as the in-thread path (the
 * module named in the options). Posted bytes are transferred to the worker, and the model
 * input back, so nothing is copied. User errors come back as UserError (HTTP 400); a full
 * queue is an OverloadError. A worker that dies fails only the jobs it held, and a fresh one
 * takes its place.
 */
export class DecodePool {
  private constructor(private readonly pool: JobPool<PrepareJob, PreparedImage>) {}

  /** Starts the workers and waits until each has loaded its module; throws what a worker threw while loading. */
  static async start(opts: DecodePoolOptions): Promise<DecodePool> {
    const workerData: DecodeWorkerData = { module: opts.module, options: opts.options };
    const pool = await JobPool.start<PrepareJob, PreparedImage>({
      worker: new URL('./decode-worker.ts', import.meta.url),
      workerData,
      size: opts.size,
      depth: PIPELINE_DEPTH,
      maxQueue: opts.maxQueue ?? 1024,
      overload: (queued, max) => new OverloadError(queued, max),
      name: 'decode',
    });
    return new DecodePool(pool);
  }

  /** Number of worker threads. */
  get size(): number {
    return this.pool.size;
  }

  /** Decodes and prepares one request's image on some worker. The job's bytes are transferred: do not use them afterwards. */
  run(job: PrepareJob): Promise<PreparedImage> {
    const own = job.bytes.byteOffset === 0 && job.bytes.byteLength === job.bytes.buffer.byteLength && job.bytes.buffer instanceof ArrayBuffer;
    return this.pool.run(job, own ? [job.bytes.buffer as ArrayBuffer] : []);
  }

  /** Stops the workers; jobs not yet answered are rejected. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
