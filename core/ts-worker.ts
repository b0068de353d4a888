import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The one plain-JS bootstrap every fedkd worker thread starts from. */
const ENTRY = new URL('./ts-worker-entry.js', import.meta.url);

/**
 * A worker thread running the TypeScript module at `module` (a file URL, usually
 * `new URL('./x-worker.ts', import.meta.url)`). Node 20 does not apply the parent's
 * `--import tsx` hooks to a worker's entry, so the thread starts from core/ts-worker-entry.js,
 * which registers tsx and imports the module; its URL travels as the last argv entry, so
 * `options.workerData` stays the worker's own.
 */
export function tsWorker(module: URL, options: WorkerOptions = {}): Worker {
  return new Worker(ENTRY, { ...options, argv: [...(options.argv ?? []), module.href] });
}
