import { workerData } from 'node:worker_threads';
import { serveJobs } from '../core/job-worker.ts';
import type { PrepareImage, PrepareJob, PreparedImage } from './prepare.ts';

/** What a DecodePool worker is started with: the module whose `createPrepare(options)` gives its PrepareImage. */
export interface DecodeWorkerData {
  module: string;
  options: unknown;
}

/** The contract of the module a DecodePool loads in each worker. */
export interface PrepareModule {
  createPrepare(options: unknown): PrepareImage | Promise<PrepareImage>;
}

const data = workerData as DecodeWorkerData;
const prepare = await ((await import(data.module)) as PrepareModule).createPrepare(data.options);
serveJobs<PrepareJob, PreparedImage>(prepare, (result) => [result.input.buffer as ArrayBuffer]);
