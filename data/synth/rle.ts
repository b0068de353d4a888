/**
 * DICOM RLE Lossless encoder (PS3.5 Annex G). Pixels of `bytesPerSample` bytes are split
 * into byte segments, most significant byte first (G.2); each segment is PackBits-encoded
 * row by row (G.3.1) and padded with a zero to even length; a 64-byte header (G.5) gives the
 * segment count and offsets. Only the encoder lives here: reading goes through maintained decoders.
 */

/** Longest literal or replicate run PackBits allows. */
const MAX_RUN = 128;
/** Annex G allows at most 15 segments. */
const MAX_SEGMENTS = 15;
const HEADER_BYTES = 64;

/**
 * PackBits-encodes `src` (G.3.1): a replicate run of 2–128 equal bytes becomes `[1 - count, byte]`,
 * a literal run of 1–128 bytes becomes `[count - 1, ...bytes]`; -128 is never emitted.
 * Runs of two equal bytes inside literal data stay literal (the note in G.3.1).
 */
export function packBits(src: Uint8Array, out: number[]): void {
  let i = 0;
  const n = src.length;
  while (i < n) {
    let run = 1;
    while (i + run < n && run < MAX_RUN && src[i + run] === src[i]) run++;
    if (run >= 3 || (run === 2 && i + 2 === n)) {
      out.push((257 - run) & 0xff, src[i]);
      i += run;
      continue;
    }
    const start = i;
    while (i < n && i - start < MAX_RUN) {
      if (i + 2 < n && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
    }
    out.push(i - start - 1);
    for (let k = start; k < i; k++) out.push(src[k]);
  }
}

/**
 * Encodes one frame of `rows × columns` single-sample pixels, each `bytesPerSample` bytes
 * (1 or 2), given as the native little-endian pixel bytes. Returns the RLE fragment.
 */
export function rleEncodeFrame(native: Uint8Array, rows: number, columns: number, bytesPerSample: 1 | 2): Uint8Array {
  if (native.length !== rows * columns * bytesPerSample) throw new Error('pixel bytes do not match rows × columns');
  const segments: Uint8Array[] = [];
  const row = new Uint8Array(columns);
  for (let s = 0; s < bytesPerSample; s++) {
    const byteInSample = bytesPerSample - 1 - s; // most significant byte first
    const out: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) row[c] = native[(r * columns + c) * bytesPerSample + byteInSample];
      packBits(row, out);
    }
    if (out.length % 2 === 1) out.push(0);
    segments.push(Uint8Array.from(out));
  }
  if (segments.length > MAX_SEGMENTS) throw new Error('too many RLE segments');
  const total = HEADER_BYTES + segments.reduce((a, s) => a + s.length, 0);
  const frame = new Uint8Array(total);
  const dv = new DataView(frame.buffer);
  dv.setUint32(0, segments.length, true);
  let off = HEADER_BYTES;
  segments.forEach((seg, i) => {
    dv.setUint32(4 + 4 * i, off, true);
    frame.set(seg, off);
    off += seg.length;
  });
  return frame;
}
