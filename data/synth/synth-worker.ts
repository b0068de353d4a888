/**
 * Worker thread of the parallel synthetic-federation writer (data/synth/synth-pool.ts, started
 * through core/ts-worker.ts): writes each image it is sent and answers with the job's id, or
 * with the error it met. It holds no state between jobs, so the order jobs arrive in does not
 * change any file.
 */
import { parentPort } from 'node:worker_threads';
import { type ImageJob, writeImageFiles } from './image-files.ts';

/** A job posted to a synth worker. */
export interface SynthJob {
  id: number;
  job: ImageJob;
}

/** A synth worker's answer: done, or the message of the error that stopped the image. */
export type SynthReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const port = parentPort;
if (port) {
  port.on('message', ({ id, job }: SynthJob) => {
    writeImageFiles(job).then(
      () => port.postMessage({ id, ok: true } satisfies SynthReply),
      (e: unknown) => port.postMessage({ id, ok: false, message: e instanceof Error ? e.message : String(e) } satisfies SynthReply),
    );
  });
}
