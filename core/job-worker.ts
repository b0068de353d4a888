import { parentPort } from 'node:worker_threads';
import { isUserError } from './errors.ts';

/** A job as a JobPool posts it (core/job-pool.ts). */
export interface JobMessage<J> {
  id: number;
  job: J;
}

/** A worker's answer to job `id`: its result (buffers transferred), or the error it met and whether it is the user's. */
export type JobReply<R> = { id: number; ok: true; result: R } | { id: number; ok: false; message: string; user: boolean };

/**
 * The worker side of a JobPool: answers every job with `handle`'s result, transferring the
 * buffers `transfer` names, or with its error. Call it once the worker's setup is done: its
 * first message tells the pool the worker has loaded.
 */
export function serveJobs<J, R>(handle: (job: J) => Promise<R>, transfer: (r: R) => ArrayBuffer[]): void {
  const port = parentPort;
  if (!port) throw new Error('serveJobs runs in a worker thread');
  port.on('message', ({ id, job }: JobMessage<J>) => {
    handle(job).then(
      (result) => port.postMessage({ id, ok: true, result } satisfies JobReply<R>, transfer(result)),
      (e: unknown) => port.postMessage({ id, ok: false, message: e instanceof Error ? e.message : String(e), user: isUserError(e) } satisfies JobReply<R>),
    );
  });
  port.postMessage('ready');
}
