import type { DecodedImage } from '../image.ts';
import { WINDOW_PRESETS, type PreprocessConfig } from './config.ts';

/** The value range [lo, hi] a VOI window maps linearly onto [0, 1]. */
export interface VoiRange {
  lo: number;
  hi: number;
}

/**
 * The DICOM linear VOI function's range for a centre and width (PS3.3 C.11.2.1.2.1):
 * values at or below c − 0.5 − (w − 1)/2 map to 0, above c − 0.5 + (w − 1)/2 to 1.
 */
export function windowRange(center: number, width: number): VoiRange {
  const half = Math.max(width - 1, 1e-6) / 2;
  return { lo: center - 0.5 - half, hi: center - 0.5 + half };
}

/** The p-th percentile (0–100) of values, over at most ~65k evenly strided samples. */
export function percentiles(values: Float32Array, ps: readonly number[]): number[] {
  const stride = Math.max(1, Math.floor(values.length / 65536));
  const sample = new Float32Array(Math.ceil(values.length / stride));
  for (let i = 0, k = 0; i < values.length; i += stride) sample[k++] = values[i];
  sample.sort();
  return ps.map((p) => sample[Math.min(sample.length - 1, Math.max(0, Math.round((p / 100) * (sample.length - 1))))]);
}

/** Chooses the VOI range for one frame's values, as the config's `window` says. */
export function voiRange(img: DecodedImage, values: Float32Array, cfg: PreprocessConfig): VoiRange {
  const w = cfg.window;
  if (w === 'lung' || w === 'mediastinum' || w === 'bone') return windowRange(WINDOW_PRESETS[w].center, WINDOW_PRESETS[w].width);
  if (w === 'file') {
    if (img.windows.length > 0) return windowRange(img.windows[0].center, img.windows[0].width);
    if (img.format !== 'dicom') return { lo: 0, hi: 2 ** img.bitsStored - 1 };
  }
  const [lo, hi] = w === 'minmax' ? percentiles(values, [0, 100]) : percentiles(values, cfg.percentiles);
  return hi > lo ? { lo, hi } : { lo, hi: lo + 1 };
}

/** The window as y = clamp(a·v + b, 0, 1); `invert` flips it (MONOCHROME1). */
export function windowMap(r: VoiRange, invert: boolean): { a: number; b: number } {
  const scale = 1 / (r.hi - r.lo);
  return invert ? { a: -scale, b: 1 + r.lo * scale } : { a: scale, b: -r.lo * scale };
}

/** Maps values through the window onto [0, 1], clamped, into a new array; `invert` flips it (MONOCHROME1). */
export function applyWindow(values: Float32Array, r: VoiRange, invert: boolean): Float32Array {
  const out = new Float32Array(values.length);
  const { a, b } = windowMap(r, invert);
  for (let i = 0; i < values.length; i++) {
    const y = values[i] * a + b;
    out[i] = y < 0 ? 0 : y > 1 ? 1 : y;
  }
  return out;
}
