import type { Rng } from '../../core/rng.ts';
import { gaussianBlur } from './blur.ts';

/**
 * Seeded training augmentation of one model tensor (size·size·channels, HWC) and its mask.
 * Geometry (flip, rotation, scale) moves image and mask alike; intensity changes (contrast
 * and brightness jitter, gamma, Gaussian noise) touch the image only and are scaled by the
 * image's own value range, so they suit both `unit` and `zscore` tensors.
 */
export interface AugmentConfig {
  /** Probability of a left–right flip. */
  flip: number;
  /** Largest rotation either way, in degrees. */
  rotateDeg: number;
  /** Largest relative zoom either way (0.1 → 0.9…1.1). */
  scale: number;
  /** Largest relative contrast change, and brightness shift as a fraction of the range. */
  intensity: number;
  /** Largest |log γ| (0.2 → γ in e^±0.2); gamma acts on the range mapped to [0, 1]. */
  gamma: number;
  /** Standard deviation of added Gaussian noise, as a fraction of the range. */
  noise: number;
  /**
   * A lower-grade detector, imitated (absent: never): with probability `p` the image is blurred
   * with a Gaussian of σ drawn from 0…`blur` pixels and gets extra Gaussian noise of σ drawn from
   * 0…`noise` of its range. Sites whose scanners are sharp and quiet then also teach the model
   * what a blurred, noisy scanner's images look like (the idea of Zhang et al. 2020's
   * "deep stacked transformations" for unseen domains).
   */
  degrade?: DegradeConfig;
}

/** See AugmentConfig.degrade. */
export interface DegradeConfig {
  p: number;
  blur: number;
  noise: number;
}

/** Mild defaults for chest radiographs. */
export const DEFAULT_AUGMENT: AugmentConfig = { flip: 0.5, rotateDeg: 10, scale: 0.1, intensity: 0.1, gamma: 0.2, noise: 0.02 };

/** Augments in place; every random draw comes from `rng`, in a fixed order, so a seed repeats exactly. */
export function augment(x: Float32Array, mask: Float32Array | undefined, size: number, channels: number, cfg: AugmentConfig, rng: Rng): void {
  const flip = rng.next() < cfg.flip;
  const angle = (rng.uniform(-1, 1) * cfg.rotateDeg * Math.PI) / 180;
  const zoom = 1 + rng.uniform(-1, 1) * cfg.scale;
  const contrast = 1 + rng.uniform(-1, 1) * cfg.intensity;
  const brightness = rng.uniform(-1, 1) * cfg.intensity;
  const gamma = Math.exp(rng.uniform(-1, 1) * cfg.gamma);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const pad = x[0];
  x.set(warp(x, size, channels, flip, angle, zoom, pad, false));
  if (mask) mask.set(warp(mask, size, 1, flip, angle, zoom, 0, true));
  const range = hi > lo ? hi - lo : 1;
  const mid = (lo + hi) / 2;
  for (let i = 0; i < x.length; i++) {
    let v = (x[i] - mid) * contrast + mid + brightness * range;
    const t = Math.min(1, Math.max(0, (v - lo) / range));
    v = lo + range * t ** gamma;
    x[i] = v + cfg.noise * range * (cfg.noise > 0 ? rng.normal() : 0);
  }
  if (cfg.degrade) degrade(x, size, channels, range, cfg.degrade, rng);
}

/**
 * AugmentConfig.degrade, in place: blur each channel, then add noise. Draws from `rng` only when
 * called, so configs without it repeat their former augmentation exactly.
 */
export function degrade(x: Float32Array, size: number, channels: number, range: number, cfg: DegradeConfig, rng: Rng): void {
  if (!(rng.next() < cfg.p)) return;
  const sigma = rng.uniform(0, cfg.blur);
  const noise = rng.uniform(0, cfg.noise) * range;
  if (channels === 1) gaussianBlur(x, size, sigma);
  else {
    const plane = new Float32Array(size * size);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < plane.length; i++) plane[i] = x[i * channels + c];
      gaussianBlur(plane, size, sigma);
      for (let i = 0; i < plane.length; i++) x[i * channels + c] = plane[i];
    }
  }
  if (noise > 0) for (let i = 0; i < x.length; i++) x[i] += noise * rng.normal();
}

/**
 * Inverse-maps each output pixel through flip, rotation by `angle` and zoom about the centre;
 * bilinear for images, nearest for masks; outside the source takes `pad`. One flat loop with no
 * call or closure per pixel (the augmentation's hot spot: it runs on every training image).
 */
export function warp(src: Float32Array, size: number, channels: number, flip: boolean, angle: number, zoom: number, pad: number, nearest: boolean): Float32Array {
  const out = new Float32Array(src.length);
  const n = size;
  const ch = channels;
  const c0 = (n - 1) / 2;
  const cos = Math.cos(angle) / zoom;
  const sin = Math.sin(angle) / zoom;
  const lim = n - 0.5;
  for (let y = 0; y < n; y++) {
    const dy = y - c0;
    for (let x = 0; x < n; x++) {
      const dx = (flip ? n - 1 - x : x) - c0;
      const sx = cos * dx + sin * dy + c0;
      const sy = -sin * dx + cos * dy + c0;
      const o = (y * n + x) * ch;
      if (nearest) {
        const xi = Math.round(sx);
        const yi = Math.round(sy);
        const inside = !(xi < 0 || yi < 0 || xi >= n || yi >= n);
        for (let c = 0; c < ch; c++) out[o + c] = inside ? src[(yi * n + xi) * ch + c] : pad;
        continue;
      }
      if (sx < -0.5 || sy < -0.5 || sx > lim || sy > lim) {
        for (let c = 0; c < ch; c++) out[o + c] = pad;
        continue;
      }
      const xc = sx > n - 1 ? n - 1 : sx <= 0 ? 0 : sx;
      const yc = sy > n - 1 ? n - 1 : sy <= 0 ? 0 : sy;
      const xf = Math.floor(xc);
      const yf = Math.floor(yc);
      const x0 = xf > n - 2 ? n - 2 : xf;
      const y0 = yf > n - 2 ? n - 2 : yf;
      const fx = xc - x0;
      const fy = yc - y0;
      const i00 = (y0 * n + x0) * ch;
      const i10 = i00 + ch;
      const i01 = i00 + n * ch;
      const i11 = i01 + ch;
      for (let c = 0; c < ch; c++) out[o + c] = (1 - fy) * ((1 - fx) * src[i00 + c] + fx * src[i10 + c]) + fy * ((1 - fx) * src[i01 + c] + fx * src[i11 + c]);
    }
  }
  return out;
}
