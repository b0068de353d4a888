import type { CodecFrame } from './frame.ts';

/**
 * Decodes one DICOM RLE Lossless frame (PS3.5 Annex G): a 64-byte header of segment
 * offsets, then one PackBits segment per byte plane — for each sample, its most
 * significant byte first. Returns pixel-interleaved samples. No npm package decodes
 * DICOM RLE on its own (viewers embed this same loop), so it is written out here.
 */
export function decodeRle(frame: Uint8Array, rows: number, columns: number, components: number, bitsAllocated: number, signed: boolean): CodecFrame {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 64) throw new Error('RLE frame shorter than its 64-byte header');
  const bytesPerSample = bitsAllocated >> 3;
  const segments = dv.getUint32(0, true);
  if (segments !== components * bytesPerSample) throw new Error(`RLE frame has ${segments} segments, expected ${components * bytesPerSample}`);
  const pixels = rows * columns;
  const planes: Uint8Array[] = [];
  for (let s = 0; s < segments; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? dv.getUint32(8 + 4 * s, true) : frame.length;
    planes.push(unpackBits(frame.subarray(start, end), pixels));
  }
  const n = pixels * components;
  const samples = bytesPerSample === 1 ? (signed ? new Int16Array(n) : new Uint8Array(n)) : bytesPerSample === 2 ? (signed ? new Int16Array(n) : new Uint16Array(n)) : signed ? new Int32Array(n) : new Uint32Array(n);
  for (let c = 0; c < components; c++) {
    for (let i = 0; i < pixels; i++) {
      let v = 0;
      for (let b = 0; b < bytesPerSample; b++) v = v * 256 + planes[c * bytesPerSample + b][i];
      if (signed && v >= 2 ** (bitsAllocated - 1)) v -= 2 ** bitsAllocated;
      samples[i * components + c] = v;
    }
  }
  return { width: columns, height: rows, components, samples };
}

/** PackBits (Apple TN1023) as DICOM uses it: n ≥ 0 copies n+1 bytes, n < 0 repeats the next byte 1−n times, −128 is a no-op. */
export function unpackBits(src: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let i = 0;
  let o = 0;
  while (i < src.length && o < length) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      const end = Math.min(i + n + 1, src.length);
      while (i < end && o < length) out[o++] = src[i++];
    } else if (n !== -128) {
      const v = src[i++];
      for (let k = 0; k < 1 - n && o < length; k++) out[o++] = v;
    }
  }
  if (o < length) throw new Error(`RLE segment ends after ${o} of ${length} bytes`);
  return out;
}
