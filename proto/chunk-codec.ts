import type { WireModelChunk, WireResultChunk } from './wire.ts';

/**
 * Protobuf encoding of the two bulk messages (ResultChunk, ModelChunk) into one reused buffer.
 *
 * proto-loader's serializer (protobufjs) gives every chunk a fresh buffer, which grpc-js then
 * copies once more into a framed one: two new megabytes per megabyte sent. The fresh buffers
 * are external memory to V8, and every 64 MB of it starts a full mark-compact; profiled, that
 * collector work cost the sender as much CPU as the copies themselves. Writing each chunk into
 * a buffer that is reused halves the new memory and skips protobufjs' writer.
 *
 * Reuse is safe because grpc-js has copied a serialized message into its framed buffer before
 * it calls that write's callback, and a stream serializes its next message only after that
 * callback (Node streams call `_write` one at a time). A violation would garble a later chunk,
 * which the receiver's sha256 check turns into DATA_LOSS, never into a wrong model.
 */

/** One field of a message: a varint, or length-delimited bytes or UTF-8 text. */
type Field = { no: number; varint: number } | { no: number; bytes: Uint8Array } | { no: number; text: string };

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 128) {
    buf[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

function fieldLength(f: Field): number {
  if ('varint' in f) return varintLength(f.no << 3) + varintLength(f.varint);
  const len = 'bytes' in f ? f.bytes.length : Buffer.byteLength(f.text, 'utf8');
  return varintLength(f.no << 3) + varintLength(len) + len;
}

/**
 * Writes messages into one buffer it keeps and grows: each encode() returns a view that is
 * valid until the next encode(). Every field given is written, at its default too (as
 * protobufjs writes every field set on a message); leave out the absent ones.
 */
export class ScratchEncoder {
  private buf = Buffer.allocUnsafeSlow(0);

  /** `prefix` (already encoded fields), then `fields` in order. */
  encode(fields: readonly Field[], prefix: Uint8Array = new Uint8Array(0)): Buffer {
    const size = fields.reduce((s, f) => s + fieldLength(f), prefix.length);
    if (this.buf.length < size) this.buf = Buffer.allocUnsafeSlow(size);
    const buf = this.buf;
    buf.set(prefix, 0);
    let at = prefix.length;
    for (const f of fields) {
      if ('varint' in f) {
        at = writeVarint(buf, at, (f.no << 3) | WIRE_VARINT);
        at = writeVarint(buf, at, f.varint);
      } else if ('bytes' in f) {
        at = writeVarint(buf, writeVarint(buf, at, (f.no << 3) | WIRE_LEN), f.bytes.length);
        buf.set(f.bytes, at);
        at += f.bytes.length;
      } else {
        at = writeVarint(buf, writeVarint(buf, at, (f.no << 3) | WIRE_LEN), Buffer.byteLength(f.text, 'utf8'));
        at += buf.write(f.text, at, 'utf8');
      }
    }
    return buf.subarray(0, at);
  }
}

/**
 * A serializer of fedkd.v1.ResultChunk for ONE push (it owns its buffer: never share it
 * between calls). The header, sent once, goes through `base` (proto-loader's serializer).
 */
export function resultChunkSerializer(base: (m: WireResultChunk) => Buffer): (m: WireResultChunk) => Buffer {
  const enc = new ScratchEncoder();
  return (m) => {
    const prefix = m.header ? base({ header: m.header } as WireResultChunk) : undefined;
    return enc.encode(m.sha256 == null ? [{ no: 2, bytes: m.data }] : [{ no: 2, bytes: m.data }, { no: 3, text: m.sha256 }], prefix);
  };
}

const modelChunks = new ScratchEncoder();

/**
 * The serializer of fedkd.v1.ModelChunk on the server. One buffer serves every call: the
 * grpc-js server frames a message (a copy) in the same synchronous call that serializes it.
 */
export function encodeModelChunk(m: WireModelChunk): Buffer {
  return modelChunks.encode([
    { no: 1, varint: m.totalBytes },
    { no: 2, text: m.sha256 },
    { no: 3, bytes: m.data },
  ]);
}
