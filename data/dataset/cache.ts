import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configHash, sha256, sha256File, writeFileAtomic } from '../../core/files.ts';
import { warn } from '../../core/log.ts';
import { packTensors, unpackTensors } from '../../core/tensors.ts';
import type { PreprocessConfig } from '../preprocess/config.ts';

/** The cache folder of a dataset (docs/CONTRACTS.md). */
export const CACHE_DIR = '.fedkd-cache';

/** Bump when the preprocessing code changes what it produces, so old caches are not reused. */
export const PREPROCESS_VERSION = 1;

/** One cached, preprocessed item: the image tensor and, if the row has one, its mask. */
export interface CachedItem {
  x: Float32Array;
  mask: Float32Array | null;
}

/**
 * A dataset's on-disk cache of preprocessed tensors, keyed by the file's sha256 (and the
 * mask's) under a folder named by the preprocessing config's hash. File hashes are memoised
 * by size and mtime in `hashes.json`, so a warm epoch neither decodes nor re-hashes.
 */
export class TensorCache {
  readonly root: string;
  readonly configKey: string;
  private hashes: Record<string, { size: number; mtimeMs: number; sha256: string }> = {};
  private dirtyHashes = false;
  private readOnly = false;

  constructor(datasetDir: string, cfg: PreprocessConfig) {
    this.root = path.join(datasetDir, CACHE_DIR);
    this.configKey = configHash({ cfg, v: PREPROCESS_VERSION }).slice(0, 16);
    const memo = path.join(this.root, 'hashes.json');
    if (existsSync(memo)) {
      try {
        this.hashes = JSON.parse(readFileSync(memo, 'utf8')) as typeof this.hashes;
      } catch {
        this.hashes = {};
      }
    }
  }

  /** sha256 of a file, from the memo when its size and mtime are unchanged. */
  async fileHash(file: string): Promise<string> {
    const st = statSync(file);
    const m = this.hashes[file];
    if (m && m.size === st.size && m.mtimeMs === st.mtimeMs) return m.sha256;
    const h = await sha256File(file);
    this.hashes[file] = { size: st.size, mtimeMs: st.mtimeMs, sha256: h };
    this.dirtyHashes = true;
    return h;
  }

  /** The cache key of an item: its image hash and mask hash (if any). */
  itemKey(imageHash: string, maskHash: string | null): string {
    return maskHash ? sha256(`${imageHash}:${maskHash}`) : imageHash;
  }

  private itemPath(key: string): string {
    return path.join(this.root, this.configKey, `${key}.fkw`);
  }

  /** The cached item, or null on a miss (or an unreadable entry, which is then rebuilt). */
  async get(key: string): Promise<CachedItem | null> {
    const p = this.itemPath(key);
    if (!existsSync(p)) return null;
    try {
      const tensors = unpackTensors(await readFile(p));
      const x = tensors.find((t) => t.name === 'x');
      if (!x) return null;
      return { x: x.data, mask: tensors.find((t) => t.name === 'mask')?.data ?? null };
    } catch {
      return null;
    }
  }

  /** Stores an item atomically. A dataset folder the site cannot write to only costs the cache (one warning). */
  async put(key: string, item: CachedItem, size: number, channels: number): Promise<void> {
    const tensors = [{ name: 'x', shape: [size, size, channels], dtype: 'float32' as const, data: item.x }];
    if (item.mask) tensors.push({ name: 'mask', shape: [size, size, 1], dtype: 'float32', data: item.mask });
    await this.write(this.itemPath(key), packTensors(tensors));
  }

  /** Writes the hash memo if it changed. */
  async flush(): Promise<void> {
    if (!this.dirtyHashes) return;
    await this.write(path.join(this.root, 'hashes.json'), JSON.stringify(this.hashes));
    this.dirtyHashes = false;
  }

  private async write(file: string, data: string | Uint8Array): Promise<void> {
    if (this.readOnly) return;
    try {
      await writeFileAtomic(file, data);
    } catch (e) {
      this.readOnly = true;
      warn(`cannot write the tensor cache under ${this.root} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): continuing without it`);
    }
  }
}
