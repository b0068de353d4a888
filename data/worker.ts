import { serveJobs } from '../core/job-worker.ts';
import type { PreprocessConfig } from './preprocess/config.ts';
import { preprocessFile, type PreprocessedItem } from './preprocess/file.ts';

/** A job for a preprocessing worker (see data/pool.ts). */
export interface WorkerJob {
  file: string;
  mask: string | null;
  cfg: PreprocessConfig;
}

serveJobs<WorkerJob, PreprocessedItem>(
  (job) => preprocessFile(job.file, job.mask, job.cfg),
  (r) => [r.x.buffer as ArrayBuffer, ...(r.mask ? [r.mask.buffer as ArrayBuffer] : [])],
);
