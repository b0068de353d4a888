/**
 * One decoded image frame as a codec hands it back: samples interleaved per pixel
 * (R G B R G B … for colour), stored values before any modality LUT.
 */
export interface CodecFrame {
  width: number;
  height: number;
  components: number;
  /** Sample values, `width·height·components` of them, pixel-interleaved. */
  samples: Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array;
}

/** Converts planar samples (all R, then all G, then all B) to pixel-interleaved order. */
export function planarToInterleaved<T extends CodecFrame['samples']>(planar: T, pixels: number, components: number): T {
  if (components === 1) return planar;
  const out = new (planar.constructor as new (n: number) => T)(planar.length);
  for (let c = 0; c < components; c++) {
    const off = c * pixels;
    for (let i = 0; i < pixels; i++) out[i * components + c] = planar[off + i];
  }
  return out;
}

/** Reinterprets little-endian bytes as 16-bit samples (signed or not), copying so the result is aligned. */
export function bytesTo16(bytes: Uint8Array, signed: boolean): Uint16Array | Int16Array {
  const n = bytes.length >> 1;
  const out = signed ? new Int16Array(n) : new Uint16Array(n);
  new Uint8Array(out.buffer).set(bytes.subarray(0, n * 2));
  return out;
}
