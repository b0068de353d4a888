/**
 * Writes a list of synthetic images, on the calling thread or on worker threads
 * (data/synth/synth-worker.ts). Images are independent (each has its own seeded stream), so
 * the files do not depend on which thread writes them or in which order.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { tsWorker } from '../../core/ts-worker.ts';
import { imageWriteError, type ImageJob, writeImageFiles } from './image-files.ts';
import type { SynthJob, SynthReply } from './synth-worker.ts';

/**
 * Images each worker should have to write before another worker is worth starting: starting
 * the workers (tsx, the synth modules, sharp) cost about 0.6 s on a busy 2-core machine, about
 * what a second thread saves on 100–200 images at ~10 ms each.
 */
export const IMAGES_PER_WORKER = 200;

/** Jobs each worker holds at once, so it never waits on the main thread between images. */
const PIPELINE_DEPTH = 2;

/** The default number of threads for `images` images: one per core, each with at least IMAGES_PER_WORKER images. */
export function autoWorkers(images: number): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(images / IMAGES_PER_WORKER)));
}

/** Writes the images one after another on this thread, in list order. */
async function writeSequential(jobs: ImageJob[], onWritten: (job: ImageJob) => void): Promise<void> {
  for (const job of jobs) {
    try {
      await writeImageFiles(job);
    } catch (e) {
      throw imageWriteError(job, e);
    }
    onWritten(job);
  }
}

/**
 * Writes every image of `jobs`, calling `onWritten` once per image on this thread as it is
 * done. With `workers` = 1 the images are written here, in order; otherwise on that many
 * worker threads (never more than there are images). The first failure rejects, after every
 * worker has been terminated; the workers are terminated on success too.
 */
export async function writeImages(jobs: ImageJob[], workers: number, onWritten: (job: ImageJob) => void): Promise<void> {
  const threads = Math.min(workers, jobs.length);
  if (threads <= 1) return writeSequential(jobs, onWritten);
  const pool = Array.from({ length: threads }, () => tsWorker(new URL('./synth-worker.ts', import.meta.url)));
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let written = 0;
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      void Promise.all(pool.map((w) => w.terminate())).then(() => (error ? reject(error) : resolve()));
    };
    const send = (w: Worker): void => {
      if (next < jobs.length) w.postMessage({ id: next, job: jobs[next++] } satisfies SynthJob);
    };
    const receive = (w: Worker, r: SynthReply): void => {
      if (settled) return;
      if (!r.ok) return finish(imageWriteError(jobs[r.id], new Error(r.message)));
      try {
        onWritten(jobs[r.id]);
      } catch (e) {
        return finish(e instanceof Error ? e : new Error(String(e)));
      }
      if (++written === jobs.length) finish();
      else send(w);
    };
    for (const w of pool) {
      w.on('message', (r: SynthReply) => receive(w, r));
      w.on('error', (e) => finish(new Error(`synth: a worker thread failed: ${e.message}`, { cause: e })));
      w.on('exit', (code) => finish(new Error(`synth: a worker thread stopped (exit code ${code}) before every image was written`)));
      for (let d = 0; d < PIPELINE_DEPTH; d++) send(w);
    }
  });
}
