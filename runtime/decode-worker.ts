import { parentPort, workerData } from 'node:worker_threads';
import { isUserError } from '../core/errors.ts';
import type { PrepareImage, PrepareJob, PreparedImage } from './prepare.ts';

/** What a DecodePool worker is started with: the module whose `createPrepare(options)` gives its PrepareImage. */
export interface DecodeWorkerData {
  module: string;
  options: unknown;
}

/** A job as posted to a worker (the bytes' buffer is transferred). */
export interface DecodeWorkerJob extends PrepareJob {
  id: number;
}

/** A worker's answer: the prepared image (its input buffer transferred), or the error it met. */
export type DecodeWorkerReply = { id: number; ok: true; result: PreparedImage } | { id: number; ok: false; message: string; user: boolean };

/** The contract of the module a DecodePool loads in each worker. */
export interface PrepareModule {
  createPrepare(options: unknown): PrepareImage | Promise<PrepareImage>;
}

const port = parentPort;
if (port) {
  const data = workerData as DecodeWorkerData;
  const prepare = await ((await import(data.module)) as PrepareModule).createPrepare(data.options);
  port.on('message', (job: DecodeWorkerJob) => {
    prepare(job).then(
      (result) => {
        const reply: DecodeWorkerReply = { id: job.id, ok: true, result };
        port.postMessage(reply, [result.input.buffer as ArrayBuffer]);
      },
      (e: unknown) => {
        const reply: DecodeWorkerReply = { id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), user: isUserError(e) };
        port.postMessage(reply);
      },
    );
  });
  port.postMessage('ready');
}
