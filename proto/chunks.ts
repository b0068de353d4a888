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
 * Reassembles a streamed payload of a declared size and sha256: refuses more bytes than
 * declared (DATA_LOSS) or more than `maxBytes` (INVALID_ARGUMENT), and checks the hash at the end.
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

  /** The whole payload, once every byte arrived and the sha256 matches. */
  finish(): Uint8Array {
    if (this.received !== this.totalBytes) throw new RpcError('DATA_LOSS', `payload truncated: ${this.received} of ${this.totalBytes} bytes`);
    const got = this.hash.digest('hex');
    if (got !== this.sha256) throw new RpcError('DATA_LOSS', `payload sha256 mismatch: expected ${this.sha256}, got ${got}`);
    return this.buf;
  }
}
