import { createHash } from 'node:crypto';
import { RpcError } from './errors.ts';

/** Bytes per streamed chunk: well under gRPC's 4 MB default message limit. */
export const CHUNK_BYTES = 1 << 20;

/** Views of `bytes` in CHUNK_BYTES pieces (no copies); one empty chunk for empty input. */
export function* chunksOf(bytes: Uint8Array, chunkBytes = CHUNK_BYTES): Generator<Uint8Array> {
  if (bytes.length === 0) {
    yield bytes;
    return;
  }
  for (let off = 0; off < bytes.length; off += chunkBytes) yield bytes.subarray(off, Math.min(off + chunkBytes, bytes.length));
}

/**
 * The chunks of `bytes` (as chunksOf), hashed as they are handed out: the last carries the
 * whole payload's sha256, so a sender streams without first reading the payload once more.
 */
export function* chunksWithTrailingSha256(bytes: Uint8Array, chunkBytes = CHUNK_BYTES): Generator<{ data: Uint8Array; sha256?: string }> {
  const hash = createHash('sha256');
  const last = Math.max(1, Math.ceil(bytes.length / chunkBytes)) - 1;
  let i = 0;
  for (const data of chunksOf(bytes, chunkBytes)) {
    hash.update(data);
    yield i++ === last ? { data, sha256: hash.digest('hex') } : { data };
  }
}

/**
 * Reassembles a streamed payload of a declared size and sha256: refuses more bytes than
 * declared (DATA_LOSS) or more than `maxBytes` (INVALID_ARGUMENT), and checks the hash at the end.
 * An empty `sha256` means the sender gives it after the last chunk, to finish().
 */
export class ChunkAssembler {
  private readonly buf: Uint8Array;
  private readonly hash = createHash('sha256');
  private received = 0;

  constructor(
    private readonly totalBytes: number,
    private readonly sha256: string,
    maxBytes: number,
  ) {
    if (!Number.isSafeInteger(totalBytes) || totalBytes < 0) throw new RpcError('INVALID_ARGUMENT', `bad payload size ${totalBytes}`);
    if (totalBytes > maxBytes) throw new RpcError('INVALID_ARGUMENT', `payload of ${totalBytes} bytes exceeds the limit of ${maxBytes}`);
    this.buf = new Uint8Array(totalBytes);
  }

  /** Appends one chunk. */
  add(chunk: Uint8Array): void {
    if (this.received + chunk.length > this.totalBytes) throw new RpcError('DATA_LOSS', `payload longer than the declared ${this.totalBytes} bytes`);
    this.buf.set(chunk, this.received);
    this.hash.update(chunk);
    this.received += chunk.length;
  }

  /** The whole payload, once every byte arrived and its sha256 (declared first, or trailing here) matches. */
  finish(trailingSha256 = ''): Uint8Array {
    if (this.received !== this.totalBytes) throw new RpcError('DATA_LOSS', `payload truncated: ${this.received} of ${this.totalBytes} bytes`);
    if (this.sha256 && trailingSha256 && trailingSha256 !== this.sha256) throw new RpcError('DATA_LOSS', `the payload's trailing sha256 ${trailingSha256} contradicts its declared ${this.sha256}`);
    const want = this.sha256 || trailingSha256;
    if (!want) throw new RpcError('DATA_LOSS', 'payload without a sha256');
    const got = this.hash.digest('hex');
    if (got !== want) throw new RpcError('DATA_LOSS', `payload sha256 mismatch: expected ${want}, got ${got}`);
    return this.buf;
  }
}
