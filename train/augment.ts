import type { Rng } from '../core/rng.ts';

/** Seeded geometric augmentation applied to training images (and their masks alike). */
export interface AugmentConfig {
  /** Probability of a left–right flip (default 0.5). */
  flip?: number;
  /** Largest translation in pixels along each axis, zero-filled (default 0). */
  shift?: number;
}

/**
 * Flips and shifts one NHWC image (size×size×channels) and, when given, its size×size mask,
 * in place. The random draws come from `rng` only, so a seed repeats a run exactly.
 */
export function augmentImage(img: Float32Array, mask: Float32Array | undefined, size: number, channels: number, cfg: AugmentConfig, rng: Rng): void {
  const flip = rng.next() < (cfg.flip ?? 0.5);
  const s = cfg.shift ?? 0;
  const dy = s > 0 ? rng.int(2 * s + 1) - s : 0;
  const dx = s > 0 ? rng.int(2 * s + 1) - s : 0;
  if (!flip && dx === 0 && dy === 0) return;
  transform(img, size, channels, flip, dy, dx);
  if (mask) transform(mask, size, 1, flip, dy, dx);
}

function transform(a: Float32Array, size: number, c: number, flip: boolean, dy: number, dx: number): void {
  const src = a.slice();
  for (let y = 0; y < size; y++) {
    const sy = y - dy;
    for (let x = 0; x < size; x++) {
      const fx = x - dx;
      const sx = flip ? size - 1 - fx : fx;
      const inside = sy >= 0 && sy < size && fx >= 0 && fx < size;
      for (let k = 0; k < c; k++) a[(y * size + x) * c + k] = inside ? src[(sy * size + sx) * c + k] : 0;
    }
  }
}
