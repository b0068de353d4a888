import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { configHash, sha256File, writeFileAtomic } from '../core/files.ts';
import { info } from '../core/log.ts';
import { progressBar } from '../core/progress.ts';
import { splitCsvLine } from '../data/dataset/labels.ts';
import { loadDataset, parsePreprocess, type PreprocessInput } from '../data/index.ts';
import { openSession, type ModelSession, type SessionOptions } from '../runtime/session.ts';
import { EmbeddingFile, writeEmbeddingFile, type EmbeddingHeader } from './embedding-store.ts';
import { TEACHER_INPUT, toNchw, type ImageBatchSource } from './teacher.ts';

/** Images per encoder call. */
export const ENCODER_BATCH_SIZE = 16;
/** The folder, inside a dataset folder, that holds its caches (as data/'s tensor cache). */
export const EMBEDDING_CACHE_DIR = '.fedkd-cache';
/** The index that finds a dataset's embedding file without reading its images. */
const INDEX_FILE = 'embeddings-index.json';

/** One index entry: which file holds the embeddings of which images, and how those files looked. */
interface IndexEntry {
  file: string;
  key: string;
  images: { file: string; size: number; mtimeMs: number }[];
}

/** Options of embedDataset. */
export interface EmbedOptions {
  batchSize?: number;
  session?: SessionOptions;
  /** Keep the maps on disk and read them per image (the memory planner's choice). */
  stream?: boolean;
  /** Never reuse a cached file. */
  refresh?: boolean;
}

/** A dataset's embeddings, from the cache or computed; `computed` says which. */
export interface DatasetEmbeddings {
  store: EmbeddingFile;
  computed: boolean;
  /** Images decoded by this call (0 when the cache answered). */
  decoded: number;
}

/** The index slot of an encoder and a preprocessing. */
function slot(encoderSha: string, preprocess: unknown): string {
  return configHash({ encoder: encoderSha, preprocess });
}

function readIndex(dir: string): Record<string, IndexEntry> {
  try {
    return JSON.parse(readFileSync(path.join(dir, EMBEDDING_CACHE_DIR, INDEX_FILE), 'utf8')) as Record<string, IndexEntry>;
  } catch {
    return {};
  }
}

/**
 * The cached file for these images, if the index has one whose image list matches labels.csv
 * and whose images are unchanged (same size and mtime) or gone: a decoder-only run after the
 * images were removed still finds its embeddings. No image is read.
 */
function cachedEntry(dir: string, encoderSha: string, preprocess: unknown): IndexEntry | undefined {
  const entry = readIndex(dir)[slot(encoderSha, preprocess)];
  if (!entry) return undefined;
  const names = listedFiles(dir);
  if (names.length !== entry.images.length || names.some((f, i) => f !== entry.images[i].file)) return undefined;
  for (const im of entry.images) {
    const p = path.join(dir, im.file);
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.size !== im.size || st.mtimeMs !== im.mtimeMs) return undefined;
  }
  return existsSync(path.join(dir, EMBEDDING_CACHE_DIR, entry.file)) ? entry : undefined;
}

/** The image names labels.csv lists (first column), without checking that the images exist. */
function listedFiles(dir: string): string[] {
  try {
    const lines = readFileSync(path.join(dir, 'labels.csv'), 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
    return lines.slice(1).map((l) => splitCsvLine(l)[0]);
  } catch {
    return [];
  }
}

/** The NHWC embedding maps of `set` through an encoder session, N·h·w·c, and their shape. */
export async function runEncoder(session: ModelSession, set: ImageBatchSource, opts: { batchSize: number; onBatch?: (rows: number) => void }): Promise<{ data: Float32Array; height: number; width: number; channels: number }> {
  const inName = session.inputNames.includes(TEACHER_INPUT) ? TEACHER_INPUT : session.inputNames[0];
  const outName = session.outputNames[0];
  let data = new Float32Array(0);
  let shape: [number, number, number] = [0, 0, 0];
  for (let from = 0; from < set.n; from += opts.batchSize) {
    const to = Math.min(set.n, from + opts.batchSize);
    const y = (await session.run({ [inName]: { data: toNchw(set, from, to), dims: [to - from, set.channels, set.size, set.size] } }))[outName];
    if (y.dims.length !== 4 || y.dims[0] !== to - from) throw new Error(`encoder output '${outName}' has shape [${y.dims}], expected [N, C, h, w]`);
    const [, c, h, w] = y.dims;
    if (from === 0) {
      shape = [h, w, c];
      data = new Float32Array(set.n * h * w * c);
    }
    for (let i = 0; i < to - from; i++) {
      const dst = (from + i) * h * w * c;
      for (let k = 0; k < c; k++) for (let p = 0; p < h * w; p++) data[dst + p * c + k] = y.data[(i * c + k) * h * w + p];
    }
    opts.onBatch?.(to - from);
  }
  return { data, height: shape[0], width: shape[1], channels: shape[2] };
}

/**
 * The embeddings of every image of a dataset folder under an ONNX encoder (NCHW `input` →
 * [N, C, h, w]), MedSAM's recipe (Ma et al. 2024, "Segment anything in medical images",
 * Nat. Commun. 15:654): computed once through runtime/ with a progress bar and cached in
 * `<dir>/.fedkd-cache/` as float16, keyed by the encoder's sha256, the images' hash and the
 * preprocessing, together with the preprocessed masks and labels. A later call finds them
 * through an index without reading any image, even when the images are gone.
 */
export async function embedDataset(encoderPath: string, dir: string, preprocess: PreprocessInput, opts: EmbedOptions = {}): Promise<DatasetEmbeddings> {
  const cfg = parsePreprocess(preprocess);
  const encoderSha = await sha256File(encoderPath).catch(() => {
    throw new UserError(`cannot read encoder model ${encoderPath}`);
  });
  const cacheDir = path.join(dir, EMBEDDING_CACHE_DIR);
  const hit = opts.refresh ? undefined : cachedEntry(dir, encoderSha, cfg);
  const store = hit && EmbeddingFile.open(path.join(cacheDir, hit.file), opts.stream);
  if (store) return { store, computed: false, decoded: 0 };
  const set = await loadDataset(dir, cfg);
  const key = configHash({ encoder: encoderSha, dataset: set.hash, preprocess: cfg });
  const session = await openSession(encoderPath, opts.session).catch((e: unknown) => {
    throw new UserError(`cannot open encoder ${encoderPath}: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  });
  const bar = progressBar('embeddings', set.n);
  let grid;
  try {
    grid = await runEncoder(session, set, { batchSize: opts.batchSize ?? ENCODER_BATCH_SIZE, onBatch: (k) => bar.tick(k) }).catch((e: unknown) => {
      throw new UserError(`encoder ${encoderPath} failed on ${set.size}x${set.size}x${set.channels} images: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
    });
  } finally {
    bar.stop();
    await session.release();
  }
  const header: EmbeddingHeader = {
    key, encoderSha256: encoderSha, preprocess: cfg, n: set.n, height: grid.height, width: grid.width, channels: grid.channels,
    imageSize: set.size, files: set.files, labels: Array.from(set.labels), hasMasks: Boolean(set.masks),
  };
  const file = `embeddings-${key.slice(0, 32)}.f16`;
  await writeEmbeddingFile(path.join(cacheDir, file), { header, embeddings: grid.data, masks: set.masks });
  const index = readIndex(dir);
  index[slot(encoderSha, cfg)] = { file, key, images: set.files.map((f) => ({ file: f, ...stamp(path.join(dir, f)) })) };
  await writeFileAtomic(path.join(cacheDir, INDEX_FILE), `${JSON.stringify(index)}\n`);
  info(`embeddings: ${set.n} images → ${grid.height}x${grid.width}x${grid.channels} each on ${session.provider}, cached as float16`);
  const opened = EmbeddingFile.open(path.join(cacheDir, file), opts.stream);
  if (!opened) throw new Error(`cannot read back ${file}`);
  return { store: opened, computed: true, decoded: set.decoded };
}

function stamp(file: string): { size: number; mtimeMs: number } {
  const st = statSync(file);
  return { size: st.size, mtimeMs: st.mtimeMs };
}

/** The preprocessing an encoder was trained with, from its sidecar (`<encoder>.json`), else undefined. */
export function encoderPreprocess(encoderPath: string): PreprocessInput | undefined {
  const sidecar = `${encoderPath}.json`;
  if (!existsSync(sidecar)) return undefined;
  return (JSON.parse(readFileSync(sidecar, 'utf8')) as { preprocess?: PreprocessInput }).preprocess;
}
