import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { configHash, sha256, sha256File, writeFileAtomic } from '../core/files.ts';
import { info } from '../core/log.ts';
import { progressBar } from '../core/progress.ts';
import { packTensors, unpackTensors } from '../core/tensors.ts';
import { openSession, type SessionOptions } from '../runtime/session.ts';
import { runTeacher, type ImageBatchSource } from './teacher.ts';

/** Images per teacher call. */
export const TEACHER_BATCH_SIZE = 32;

/** A site's soft labels: the teacher's logits for every image, N × numClasses. */
export interface SoftLabels {
  logits: Float32Array;
  numClasses: number;
  /** The cache key (teacher hash + dataset hash + preprocessing). */
  key: string;
  /** True when read from the cache rather than computed. */
  cached: boolean;
}

/** Options for softLabels. */
export interface SoftLabelOptions {
  /** Folder of the cache files (e.g. `<dataset>/.fedkd-cache`); no caching when absent. */
  cacheDir?: string;
  /** The preprocessing config the images were made with; part of the key. */
  preprocess?: unknown;
  batchSize?: number;
  session?: SessionOptions;
}

/**
 * The cache key of a teacher's soft labels for a dataset: the teacher file's sha256, the
 * dataset's hash (or the sha256 of its pixels when it has none) and the preprocessing config.
 * Changing any of the three gives another key, so a stale cache is never read.
 */
export async function softLabelKey(teacherPath: string, set: ImageBatchSource & { hash?: string }, preprocess?: unknown): Promise<string> {
  const teacher = await sha256File(teacherPath).catch(() => {
    throw new UserError(`cannot read teacher model ${teacherPath}`);
  });
  const dataset = set.hash ?? sha256(new Uint8Array(set.x.buffer, set.x.byteOffset, set.x.byteLength));
  return configHash({ teacher, dataset, preprocess: preprocess ?? null, n: set.n });
}

/**
 * The teacher's soft labels (logits) for a whole dataset, computed once through ONNX Runtime
 * (runtime/session.ts) in batches with a progress bar, and cached in `cacheDir` under their key.
 */
export async function softLabels(teacherPath: string, set: ImageBatchSource & { hash?: string }, opts: SoftLabelOptions = {}): Promise<SoftLabels> {
  const key = await softLabelKey(teacherPath, set, opts.preprocess);
  const file = opts.cacheDir ? path.join(opts.cacheDir, `soft-labels-${key.slice(0, 32)}.bin`) : undefined;
  if (file) {
    const hit = await readCache(file, set.n);
    if (hit) return { ...hit, key, cached: true };
  }
  const session = await openSession(teacherPath, opts.session).catch((e: unknown) => {
    throw new UserError(`cannot open teacher ${teacherPath}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  });
  const bar = progressBar('soft labels', set.n);
  try {
    const { logits, numClasses } = await runTeacher(session, set, { batchSize: opts.batchSize ?? TEACHER_BATCH_SIZE, onBatch: (k) => bar.tick(k) }).catch((e: unknown) => {
      const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw new UserError(`teacher ${teacherPath} failed on ${set.size}x${set.size}x${set.channels} images (does it expect this preprocessing?): ${why}`);
    });
    if (file) await writeFileAtomic(file, packTensors([{ name: 'softLabels', shape: [set.n, numClasses], dtype: 'float32', data: logits }]));
    info(`soft labels: ${set.n} images through the teacher on ${session.provider}`);
    return { logits, numClasses, key, cached: false };
  } finally {
    bar.stop();
    await session.release();
  }
}

async function readCache(file: string, n: number): Promise<{ logits: Float32Array; numClasses: number } | undefined> {
  try {
    const [t] = unpackTensors(new Uint8Array(await readFile(file)));
    if (t?.name !== 'softLabels' || t.shape[0] !== n) return undefined;
    return { logits: t.data, numClasses: t.shape[1] };
  } catch {
    return undefined;
  }
}
