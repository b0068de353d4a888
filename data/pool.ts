import { JobPool } from '../core/job-pool.ts';
import type { PreprocessConfig } from './preprocess/config.ts';
import type { PreprocessedItem } from './preprocess/file.ts';
import type { WorkerJob } from './worker.ts';

/** Jobs each worker holds at once, so it never waits on the main thread between images. */
const PIPELINE_DEPTH = 4;

/**
 * A pool of worker threads that decode and preprocess images in parallel (data/worker.ts on
 * core/job-pool.ts): jobs go to the least-busy worker; results come back with their buffers
 * transferred.
 */
export class PreprocessPool {
  private readonly pool: JobPool<WorkerJob, PreprocessedItem>;

  /** Starts `size` workers (default: one per core). */
  constructor(size?: number) {
    this.pool = new JobPool({ worker: new URL('./worker.ts', import.meta.url), size, depth: PIPELINE_DEPTH, name: 'preprocessing' });
  }

  /** Number of worker threads. */
  get size(): number {
    return this.pool.size;
  }

  /** Decodes and preprocesses one file (and mask) on some worker. */
  run(file: string, mask: string | null, cfg: PreprocessConfig): Promise<PreprocessedItem> {
    return this.pool.run({ file, mask, cfg });
  }

  /** Stops every worker. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
