import type { Rng } from '../core/rng.ts';

/** A bounding box in pixel coordinates of an S×S image: [x0, x1) × [y0, y1), edges may be fractional. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** MedSAM's box perturbation: up to 20 pixels on its 1024-pixel input (Ma et al. 2024, Nat. Commun. 15:654). */
export const MEDSAM_JITTER_PX = 20;
/** The input side MedSAM's 20 pixels refer to. */
export const MEDSAM_IMAGE_SIZE = 1024;

/** MedSAM's 20-pixel jitter at an image side of `imageSize` pixels. */
export function medsamJitter(imageSize: number): number {
  return (MEDSAM_JITTER_PX * imageSize) / MEDSAM_IMAGE_SIZE;
}

/** The tight box around the foreground (non-zero) pixels of an S×S mask; undefined when it is empty. */
export function boxOfMask(mask: ArrayLike<number>, size: number, offset = 0): Box | undefined {
  let x0 = size;
  let y0 = size;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (mask[offset + y * size + x] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/**
 * The box with each edge moved by an amount uniform in [−maxPx, maxPx], drawn from `rng`
 * (MedSAM's training-time prompt noise), clipped to the image and kept at least one pixel wide.
 */
export function jitterBox(b: Box, maxPx: number, size: number, rng: Rng): Box {
  const d = (): number => rng.uniform(-maxPx, maxPx);
  const clip = (v: number): number => Math.min(size, Math.max(0, v));
  let x0 = clip(b.x0 + d());
  let x1 = clip(b.x1 + d());
  let y0 = clip(b.y0 + d());
  let y1 = clip(b.y1 + d());
  if (x1 - x0 < 1) [x0, x1] = fitOne((x0 + x1) / 2, size);
  if (y1 - y0 < 1) [y0, y1] = fitOne((y0 + y1) / 2, size);
  return { x0, y0, x1, y1 };
}

function fitOne(centre: number, size: number): [number, number] {
  const lo = Math.min(size - 1, Math.max(0, centre - 0.5));
  return [lo, lo + 1];
}

/**
 * The box as an S×S prompt channel: each pixel holds the fraction of its area inside the box
 * (1 inside, 0 outside, partial on fractional edges), so sub-pixel jitter still changes it.
 */
export function rasterizeBox(b: Box, size: number, out = new Float32Array(size * size), offset = 0): Float32Array {
  const cover = (lo: number, hi: number, p: number): number => Math.max(0, Math.min(hi, p + 1) - Math.max(lo, p));
  const cx = Float32Array.from({ length: size }, (_, x) => cover(b.x0, b.x1, x));
  for (let y = 0; y < size; y++) {
    const cy = cover(b.y0, b.y1, y);
    for (let x = 0; x < size; x++) out[offset + y * size + x] = cy * cx[x];
  }
  return out;
}
