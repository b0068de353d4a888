/**
 * A named tensor: how weights travel between models, checkpoints and the wire
 * (name, shape, dtype, little-endian bytes). Only float32 is used for weights today.
 */
export interface NamedTensor {
  name: string;
  shape: number[];
  dtype: 'float32';
  data: Float32Array;
}

const MAGIC = 0x464b5731; // "FKW1"

/** Number of elements a shape holds. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Packs named tensors into one buffer: a little-endian u32 magic, u32 header length,
 * a JSON header [{name, shape, dtype}], padding to 4 bytes, then each tensor's float32 data.
 */
export function packTensors(tensors: readonly NamedTensor[]): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(tensors.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype }))));
  const headerPadded = Math.ceil(header.length / 4) * 4;
  const dataBytes = tensors.reduce((s, t) => s + t.data.length * 4, 0);
  const out = new Uint8Array(8 + headerPadded + dataBytes);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, header.length, true);
  out.set(header, 8);
  let off = 8 + headerPadded;
  for (const t of tensors) {
    if (t.data.length !== sizeOf(t.shape)) throw new Error(`tensor ${t.name}: ${t.data.length} values for shape [${t.shape}]`);
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), off);
    off += t.data.byteLength;
  }
  return out;
}

/**
 * Inverse of packTensors. Throws on a buffer that is not one (bad magic, truncated).
 * With `view`, each tensor's data is a view on `buf` (no copy) when 4-byte aligned, so it
 * shares `buf`'s memory: for read-only use of a buffer nobody else writes to.
 */
export function unpackTensors(buf: Uint8Array, { view = false }: { view?: boolean } = {}): NamedTensor[] {
  if (buf.length < 8) throw new Error('weights buffer truncated');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new Error('not a fedkd weights buffer (bad magic)');
  const hlen = dv.getUint32(4, true);
  if (8 + hlen > buf.length) throw new Error('weights buffer truncated');
  const meta = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + hlen))) as { name: string; shape: number[]; dtype: 'float32' }[];
  let off = 8 + Math.ceil(hlen / 4) * 4;
  return meta.map((m) => {
    const n = sizeOf(m.shape);
    if (off + n * 4 > buf.length) throw new Error(`weights buffer truncated at ${m.name}`);
    const bytes = buf.subarray(off, off + n * 4);
    off += n * 4;
    if (view && bytes.byteOffset % 4 === 0) return { name: m.name, shape: m.shape, dtype: m.dtype, data: new Float32Array(bytes.buffer, bytes.byteOffset, n) };
    // copy so the result is aligned and independent of the input buffer
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes);
    return { name: m.name, shape: m.shape, dtype: m.dtype, data };
  });
}
