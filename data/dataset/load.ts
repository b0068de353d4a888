import path from 'node:path';
import { configHash } from '../../core/files.ts';
import { progressBar } from '../../core/progress.ts';
import { PreprocessPool } from '../pool.ts';
import { parsePreprocess, type PreprocessConfig, type PreprocessInput } from '../preprocess/config.ts';
import { preprocessFile, type PreprocessedItem } from '../preprocess/file.ts';
import { TensorCache } from './cache.ts';
import { readLabels, type LabelRow } from './labels.ts';

/** A loaded dataset (docs/CONTRACTS.md): N preprocessed images, labels, optional masks. */
export interface Dataset {
  n: number;
  size: number;
  channels: number;
  /** N·H·W·C float32, NHWC. */
  x: Float32Array;
  labels: Int32Array;
  /** N·H·W, 1 = foreground; present when labels.csv has a mask column. */
  masks?: Float32Array;
  /** Paths as listed in labels.csv. */
  files: string[];
  /** Identifies the files (by content) and the preprocessing, e.g. for soft-label caches. */
  hash: string;
  /** Images decoded by this call (0 when every tensor came from the cache). */
  decoded: number;
}

/** Options of loadDataset. */
export interface LoadOptions {
  /** Worker threads for cache misses: 0 decodes in this thread; default 0 below 16 misses, else one per core. */
  workers?: number;
  /** Skip the on-disk cache (neither read nor written). */
  noCache?: boolean;
}

/**
 * Loads a dataset folder (images + labels.csv with `file,label[,mask]`): validates the csv,
 * then takes each row's tensors from `<dir>/.fedkd-cache/` when its file hash and the
 * preprocessing config match, decoding and preprocessing only the misses (in worker threads
 * when there are many) and caching them. A second call with the same config decodes nothing.
 */
export async function loadDataset(dir: string, preprocess: PreprocessInput | PreprocessConfig, opts: LoadOptions = {}): Promise<Dataset> {
  const cfg = parsePreprocess(preprocess);
  const rows = readLabels(dir);
  const cache = new TensorCache(dir, cfg);
  const keys: string[] = [];
  for (const r of rows) keys.push(cache.itemKey(await cache.fileHash(r.file), r.mask ? await cache.fileHash(r.mask) : null));
  const items: (PreprocessedItem | null)[] = await Promise.all(
    keys.map(async (k) => {
      const hit = opts.noCache ? null : await cache.get(k);
      return hit ? { ...hit, decodes: 0 } : null;
    }),
  );
  const misses = rows.map((_, i) => i).filter((i) => items[i] === null);
  const workers = opts.workers ?? (misses.length >= 16 ? undefined : 0);
  const bar = progressBar(`preprocessing ${path.basename(path.resolve(dir))}`, misses.length);
  await fill(rows, misses, cfg, workers, async (i, item) => {
    items[i] = item;
    if (!opts.noCache) await cache.put(keys[i], item, cfg.size, cfg.channels);
    bar.tick();
  });
  bar.stop();
  const size = cfg.size;
  const hw = size * size;
  const hasMasks = rows.some((r) => r.mask !== null);
  const x = new Float32Array(rows.length * hw * cfg.channels);
  const masks = hasMasks ? new Float32Array(rows.length * hw) : undefined;
  let decoded = 0;
  for (let i = 0; i < rows.length; i++) {
    const it = items[i] as PreprocessedItem;
    x.set(it.x, i * hw * cfg.channels);
    if (masks && it.mask) masks.set(it.mask, i * hw);
    decoded += it.decodes;
  }
  await cache.flush();
  return {
    n: rows.length,
    size,
    channels: cfg.channels,
    x,
    labels: Int32Array.from(rows, (r) => r.label),
    ...(masks ? { masks } : {}),
    files: rows.map((r) => r.name),
    hash: configHash({ cache: cache.configKey, items: rows.map((r, i) => [r.name, r.label, keys[i]]) }),
    decoded,
  };
}

/** Decodes and preprocesses the missing rows, here or on a worker pool, handing each result to `done` as it arrives. */
async function fill(rows: LabelRow[], misses: number[], cfg: PreprocessConfig, workers: number | undefined, done: (i: number, item: PreprocessedItem) => Promise<void>): Promise<void> {
  if (misses.length === 0) return;
  if (workers === 0) {
    for (const i of misses) await done(i, await preprocessFile(rows[i].file, rows[i].mask, cfg));
    return;
  }
  const pool = new PreprocessPool(workers);
  try {
    await Promise.all(misses.map(async (i) => done(i, await pool.run(rows[i].file, rows[i].mask, cfg))));
  } finally {
    await pool.close();
  }
}
