import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { sha256, writeFileAtomic } from '../core/files.ts';

/** How many recently used payloads stay in memory (the global model is fetched by every site). */
const CACHE_ENTRIES = 4;

/**
 * Files named by the sha256 of their bytes (`<dir>/<sha>.fkw`): global models, server
 * optimiser state and accepted updates. Writes are atomic, so a file either holds its
 * whole payload or does not exist; writing the same bytes twice is a no-op.
 */
export class ContentStore {
  private readonly cache = new Map<string, Uint8Array>();

  constructor(readonly dir: string) {}

  /** The file holding `sha`. */
  pathOf(sha: string): string {
    return path.join(this.dir, `${sha}.fkw`);
  }

  /** Stores bytes and returns their sha256. */
  async put(bytes: Uint8Array): Promise<string> {
    const sha = sha256(bytes);
    if (!existsSync(this.pathOf(sha))) await writeFileAtomic(this.pathOf(sha), bytes);
    this.remember(sha, bytes);
    return sha;
  }

  /** The bytes named `sha`; throws if absent or if the file does not hash to its name. */
  async get(sha: string): Promise<Uint8Array> {
    const hit = this.cache.get(sha);
    if (hit) {
      this.remember(sha, hit);
      return hit;
    }
    const bytes = this.verified(sha, new Uint8Array(await readFile(this.pathOf(sha))));
    this.remember(sha, bytes);
    return bytes;
  }

  /**
   * The bytes named `sha` in a SharedArrayBuffer of their own (one read, or one copy from the
   * cache), verified like get(): views into them (unpackTensors with `view`) can be summed by a
   * worker thread in place. Not cached, so callers may hold them without aliasing the cache.
   */
  async getShared(sha: string): Promise<Uint8Array> {
    const hit = this.cache.get(sha);
    if (hit) {
      const copy = new Uint8Array(new SharedArrayBuffer(hit.length));
      copy.set(hit);
      return copy;
    }
    const file = await open(this.pathOf(sha), 'r');
    try {
      const bytes = new Uint8Array(new SharedArrayBuffer((await file.stat()).size));
      for (let off = 0; off < bytes.length; ) {
        const { bytesRead } = await file.read(bytes, off, bytes.length - off, off);
        if (bytesRead === 0) throw new Error(`checkpoint ${this.pathOf(sha)} shrank while being read`);
        off += bytesRead;
      }
      return this.verified(sha, bytes);
    } finally {
      await file.close();
    }
  }

  /** `bytes` read for `sha`; throws if they do not hash to it. */
  private verified(sha: string, bytes: Uint8Array): Uint8Array {
    if (sha256(bytes) !== sha) throw new Error(`checkpoint ${this.pathOf(sha)} is corrupt (hash mismatch)`);
    return bytes;
  }

  /** True if `sha` is stored. */
  has(sha: string): boolean {
    return this.cache.has(sha) || existsSync(this.pathOf(sha));
  }

  private remember(sha: string, bytes: Uint8Array): void {
    this.cache.delete(sha);
    this.cache.set(sha, bytes);
    while (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }
}
