import { UserError } from '../../core/errors.ts';
import type { DecodedImage } from '../image.ts';
import type { PreprocessConfig } from './config.ts';
import { coverage, placement, resampleLinear, resampleNearestMask, type Placement } from './resample.ts';
import { voiRange, windowMap } from './window.ts';

/** ITU-R BT.601 luma weights, for colour → grey. */
const LUMA = [0.299, 0.587, 0.114] as const;

/**
 * Turns a decoded image into one model tensor, HWC float32 (size·size·channels):
 * frame → VOI window to [0, 1] (MONOCHROME1 inverted) → aspect-keeping resize with padding
 * (optionally by Pixel Spacing) → channel conversion → `unit` or `zscore` normalisation.
 */
export function preprocessImage(img: DecodedImage, cfg: PreprocessConfig): Float32Array {
  if (cfg.frame >= img.frames) throw new UserError(`${img.source}: frame ${cfg.frame} asked for, the image has ${img.frames}`);
  const frame = img.pixels[cfg.frame];
  const window = windowMap(voiRange(img, frame, cfg), img.invert);
  const p = placeImage(img, cfg);
  // windowing is fused into the resize (applied to each source value before filtering);
  // channel conversion is linear, so it runs after the resize, on the small image
  const resized = resampleLinear(frame, img.rows, img.columns, img.channels, cfg.size, p, 0, window);
  const x = convertChannels(resized, img.channels, cfg.channels);
  if (cfg.normalize === 'zscore') zscore(x, cfg.channels, coverage(img.rows, img.columns, cfg.size, p));
  return x;
}

/** Resizes a mask image exactly as `preprocessImage` resizes an image of the same size (nearest, non-zero → 1). */
export function preprocessMask(mask: DecodedImage, cfg: PreprocessConfig, like: { rows: number; columns: number; pixelSpacing: [number, number] | null }): Float32Array {
  if (mask.rows !== like.rows || mask.columns !== like.columns) {
    throw new UserError(`${mask.source}: mask is ${mask.columns}×${mask.rows}, its image ${like.columns}×${like.rows}`);
  }
  const grey = mask.channels === 1 ? mask.pixels[0] : convertChannels(mask.pixels[0], 3, 1);
  return resampleNearestMask(grey, mask.rows, mask.columns, cfg.size, placement(like.rows, like.columns, cfg.size, like.pixelSpacing, cfg.spacing));
}

/** Where the image goes in the output square, per the config's `spacing`. */
export function placeImage(img: Pick<DecodedImage, 'rows' | 'columns' | 'pixelSpacing'>, cfg: PreprocessConfig): Placement {
  return placement(img.rows, img.columns, cfg.size, img.pixelSpacing, cfg.spacing);
}

/** Grey ↔ RGB: grey is repeated into three channels; RGB becomes BT.601 luma. */
export function convertChannels(v: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return v;
  const n = v.length / from;
  const out = new Float32Array(n * to);
  if (from === 1) {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v[i];
  } else {
    for (let i = 0; i < n; i++) out[i] = LUMA[0] * v[3 * i] + LUMA[1] * v[3 * i + 1] + LUMA[2] * v[3 * i + 2];
  }
  return out;
}

/** Zero mean, unit variance over the covered (non-padding) pixels; padding becomes 0, the mean. */
export function zscore(x: Float32Array, channels: number, covered: Uint8Array): void {
  let sum = 0;
  let sq = 0;
  let n = 0;
  for (let p = 0; p < covered.length; p++) {
    if (!covered[p]) continue;
    for (let c = 0; c < channels; c++) {
      const v = x[p * channels + c];
      sum += v;
      sq += v * v;
      n++;
    }
  }
  const mean = n ? sum / n : 0;
  const std = n ? Math.sqrt(Math.max(sq / n - mean * mean, 0)) : 1;
  const inv = std > 1e-8 ? 1 / std : 1;
  for (let p = 0; p < covered.length; p++) {
    for (let c = 0; c < channels; c++) {
      const i = p * channels + c;
      x[i] = covered[p] ? (x[i] - mean) * inv : 0;
    }
  }
}
