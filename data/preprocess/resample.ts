/**
 * Resampling onto the model's square input: a placement (scale and offset per axis, which
 * keeps the aspect ratio and centres the image, padding the rest) and separable filters —
 * area averaging when shrinking (each output pixel is the mean of the input area it covers,
 * as OpenCV's INTER_AREA, so downscaling does not alias), bilinear when enlarging — plus
 * nearest-neighbour for masks.
 */

/** Where the input sits in the output: output coordinate = input coordinate · scale + offset (pixel edges). */
export interface Placement {
  scaleY: number;
  scaleX: number;
  offY: number;
  offX: number;
}

/**
 * Places a rows×columns image in a size×size square. `spacing` ([row, column] mm) and `mode`:
 * `ignore` keeps the pixel aspect, `aspect` the physical one, a number fixes mm per output pixel.
 */
export function placement(rows: number, columns: number, size: number, spacing: [number, number] | null, mode: 'ignore' | 'aspect' | number): Placement {
  const [rs, cs] = spacing && mode !== 'ignore' ? spacing : [1, 1];
  let scaleY: number;
  let scaleX: number;
  if (typeof mode === 'number' && spacing) {
    scaleY = rs / mode;
    scaleX = cs / mode;
  } else {
    const s = size / Math.max(rows * rs, columns * cs);
    scaleY = rs * s;
    scaleX = cs * s;
  }
  return { scaleY, scaleX, offY: (size - rows * scaleY) / 2, offX: (size - columns * scaleX) / 2 };
}

/** A clamped linear value map, clamp(a·v + b, 0, 1): a VOI window in its fused form. */
export interface ValueMap {
  a: number;
  b: number;
}

/** Filter taps for one axis: for output o, inputs idx[o·k…] with weights w[o·k…]; count 0 = padding. */
interface AxisTaps {
  taps: number;
  count: Int32Array;
  idx: Int32Array;
  w: Float32Array;
}

function axisTaps(n: number, out: number, scale: number, off: number): AxisTaps {
  const shrink = scale < 1;
  const taps = shrink ? Math.ceil(1 / scale) + 2 : 2;
  const count = new Int32Array(out);
  const idx = new Int32Array(out * taps);
  const w = new Float32Array(out * taps);
  for (let o = 0; o < out; o++) {
    const pos = (o + 0.5 - off) / scale;
    if (pos < 0 || pos > n) continue;
    let k = 0;
    const add = (i: number, wt: number): void => {
      if (wt <= 1e-9 || k >= taps) return;
      idx[o * taps + k] = Math.min(n - 1, Math.max(0, i));
      w[o * taps + k] = wt;
      k++;
    };
    if (shrink) {
      // the output pixel covers input [a, b): weight each input pixel by its overlap
      const a = Math.max(0, (o - off) / scale);
      const b = Math.min(n, (o + 1 - off) / scale);
      for (let i = Math.floor(a); i < b; i++) add(i, Math.min(b, i + 1) - Math.max(a, i));
    } else {
      const c = pos - 0.5;
      const i0 = Math.floor(c);
      add(i0, 1 - (c - i0));
      add(i0 + 1, c - i0);
    }
    let sum = 0;
    for (let j = 0; j < k; j++) sum += w[o * taps + j];
    for (let j = 0; j < k; j++) w[o * taps + j] /= sum;
    count[o] = k;
  }
  return { taps, count, idx, w };
}

/**
 * Resamples a rows×columns×channels image (pixel-interleaved) to size×size×channels (area
 * average when shrinking, bilinear when enlarging); output pixels outside the placed image get `pad`.
 * Separable: a vertical pass that blends whole input rows (contiguous, so it streams through
 * memory), then a horizontal pass over the few output rows. With `window`, each source value
 * v first becomes clamp(a·v + b, 0, 1) — the VOI window, applied on the fly before filtering.
 */
export function resampleLinear(src: Float32Array, rows: number, columns: number, channels: number, size: number, p: Placement, pad: number, window?: ValueMap): Float32Array {
  const tx = axisTaps(columns, size, p.scaleX, p.offX);
  const ty = axisTaps(rows, size, p.scaleY, p.offY);
  const inLen = columns * channels;
  const mid = new Float32Array(size * inLen);
  for (let y = 0; y < size; y++) {
    const o = y * inLen;
    for (let j = 0; j < ty.count[y]; j++) {
      const w = ty.w[y * ty.taps + j];
      const from = ty.idx[y * ty.taps + j] * inLen;
      if (window) {
        const { a, b } = window;
        for (let i = 0; i < inLen; i++) {
          const v = src[from + i] * a + b;
          mid[o + i] += w * (v < 0 ? 0 : v > 1 ? 1 : v);
        }
      } else for (let i = 0; i < inLen; i++) mid[o + i] += w * src[from + i];
    }
  }
  const out = new Float32Array(size * size * channels).fill(pad);
  for (let y = 0; y < size; y++) {
    if (ty.count[y] === 0) continue;
    const rowIn = y * inLen;
    const rowOut = y * size * channels;
    for (let x = 0; x < size; x++) {
      const k = tx.count[x];
      if (k === 0) continue;
      const t0 = x * tx.taps;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += tx.w[t0 + j] * mid[rowIn + tx.idx[t0 + j] * channels + c];
        out[rowOut + x * channels + c] = acc;
      }
    }
  }
  return out;
}

/** Nearest-neighbour resampling of a one-channel mask to size×size, binarised (non-zero → 1), padding 0. */
export function resampleNearestMask(src: Float32Array, rows: number, columns: number, size: number, p: Placement): Float32Array {
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const sy = Math.floor((y + 0.5 - p.offY) / p.scaleY);
    if (sy < 0 || sy >= rows) continue;
    for (let x = 0; x < size; x++) {
      const sx = Math.floor((x + 0.5 - p.offX) / p.scaleX);
      if (sx < 0 || sx >= columns) continue;
      out[y * size + x] = src[sy * columns + sx] !== 0 ? 1 : 0;
    }
  }
  return out;
}

/** A size×size map of which output pixels hold image (1) rather than padding (0). */
export function coverage(rows: number, columns: number, size: number, p: Placement): Uint8Array {
  return Uint8Array.from(resampleNearestMask(new Float32Array(rows * columns).fill(1), rows, columns, size, p));
}
