import { parentPort } from 'node:worker_threads';
import { isUserError } from '../core/errors.ts';
import type { PreprocessConfig } from './preprocess/config.ts';
import { preprocessFile } from './preprocess/file.ts';

/** A job for a preprocessing worker (see data/pool.ts). */
export interface WorkerJob {
  id: number;
  file: string;
  mask: string | null;
  cfg: PreprocessConfig;
}

/** A worker's answer: the tensors (transferred, not copied), or the error it met. */
export type WorkerReply =
  | { id: number; ok: true; x: Float32Array; mask: Float32Array | null; decodes: number }
  | { id: number; ok: false; message: string; user: boolean };

const port = parentPort;
if (port) {
  port.on('message', (job: WorkerJob) => {
    preprocessFile(job.file, job.mask, job.cfg).then(
      (r) => {
        const reply: WorkerReply = { id: job.id, ok: true, ...r };
        port.postMessage(reply, [r.x.buffer as ArrayBuffer, ...(r.mask ? [r.mask.buffer as ArrayBuffer] : [])]);
      },
      (e: unknown) => {
        const reply: WorkerReply = { id: job.id, ok: false, message: e instanceof Error ? e.message : String(e), user: isUserError(e) };
        port.postMessage(reply);
      },
    );
  });
}
