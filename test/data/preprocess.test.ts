import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import type { DecodedImage } from '../../data/image.ts';
import { augment, type AugmentConfig, degrade, warp } from '../../data/preprocess/augment.ts';
import { parsePreprocess } from '../../data/preprocess/config.ts';
import { convertChannels, preprocessImage, preprocessMask } from '../../data/preprocess/preprocess.ts';
import { placement, resampleLinear } from '../../data/preprocess/resample.ts';
import { applyWindow, percentiles, voiRange, windowRange } from '../../data/preprocess/window.ts';

function image(rows: number, columns: number, values: ArrayLike<number>, extra: Partial<DecodedImage> = {}): DecodedImage {
  return {
    source: 'test', format: 'dicom', rows, columns, frames: 1, samplesPerPixel: 1, channels: 1, photometric: 'MONOCHROME2',
    transferSyntax: '1.2.840.10008.1.2.1', bitsAllocated: 16, bitsStored: 12, signed: false, pixels: [Float32Array.from(values)],
    invert: false, rescale: { slope: 1, intercept: 0 }, windows: [], pixelSpacing: null, modality: null, ...extra,
  };
}

describe('VOI window', () => {
  it('follows the DICOM linear VOI function', () => {
    // c=40, w=400: 0 at x <= 40-0.5-199.5 = -160, 1 above 239
    expect(windowRange(40, 400)).toEqual({ lo: -160, hi: 239 });
    const v = applyWindow(Float32Array.from([-1000, -160, 39.5, 239, 1000]), windowRange(40, 400), false);
    expect(Array.from(v)).toEqual([0, 0, 0.5, 1, 1]);
    expect(Array.from(applyWindow(Float32Array.from([-160, 39.5, 239]), windowRange(40, 400), true))).toEqual([1, 0.5, 0]);
  });

  it('takes the file window, a preset, or percentiles', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i);
    const img = image(10, 100, values, { windows: [{ center: 500, width: 201 }] });
    expect(voiRange(img, values, parsePreprocess({ size: 8 }))).toEqual({ lo: 399.5, hi: 599.5 });
    expect(voiRange(img, values, parsePreprocess({ size: 8, window: 'lung' }))).toEqual(windowRange(-600, 1500));
    // round(p/100 · 999): p1 → 10, p99 → 989
    expect(voiRange(img, values, parsePreprocess({ size: 8, window: 'auto' }))).toEqual({ lo: 10, hi: 989 });
    expect(percentiles(values, [0, 50, 100])).toEqual([0, 500, 999]);
    const noWindow = image(10, 100, values);
    expect(voiRange(noWindow, values, parsePreprocess({ size: 8 }))).toEqual({ lo: 10, hi: 989 });
    expect(voiRange({ ...noWindow, format: 'png', bitsStored: 8 }, values, parsePreprocess({ size: 8 }))).toEqual({ lo: 0, hi: 255 });
  });

  it('rejects a bad config naming the field', () => {
    expect(() => parsePreprocess({ size: 8, window: 'liver' })).toThrow(/window/);
    expect(() => parsePreprocess({ size: 0 })).toThrow(/size/);
  });
});

describe('resize', () => {
  it('shrinking averages the covered area; enlarging is bilinear', () => {
    const src = Float32Array.from([0, 8, 16, 0, 8, 0, 24, 8]);
    const p = { scaleY: 1, scaleX: 0.5, offY: 0, offX: 0 };
    expect(Array.from(resampleLinear(src, 1, 8, 1, 4, p, -1).subarray(0, 4))).toEqual([4, 8, 4, 16]);
    // by 3/8: output pixel 1 covers input [8/3, 16/3): 1/3 of pixel 2, pixels 3 and 4, 1/3 of pixel 5
    const third = resampleLinear(src, 1, 8, 1, 3, { scaleY: 1, scaleX: 3 / 8, offY: 0, offX: 0 }, -1);
    expect(third[1]).toBeCloseTo((16 / 3 + 0 + 8 + 0 / 3) / (8 / 3), 5);
    // enlarging 2×: output 1 sits at input 0.25 → 0.75·0 + 0.25·8; output 2 at 0.75 → 0.25·0 + 0.75·8
    const up = resampleLinear(Float32Array.from([0, 8]), 1, 2, 1, 4, { scaleY: 2, scaleX: 2, offY: 0, offX: 0 }, -1);
    expect(Array.from(up.subarray(0, 4))).toEqual([0, 2, 6, 8]);
  });

  it('keeps the aspect ratio and pads: a 40×80 image fills rows 4–11 of 16', () => {
    const img = image(40, 80, new Float32Array(3200).fill(1000), { windows: [{ center: 500.5, width: 1001 }] });
    const x = preprocessImage(img, parsePreprocess({ size: 16 }));
    for (let y = 0; y < 16; y++) for (let c = 0; c < 16; c++) expect(x[y * 16 + c]).toBeCloseTo(y >= 4 && y < 12 ? 1 : 0, 5);
  });

  it('keeps the physical aspect ratio with spacing "aspect", or a fixed mm per pixel', () => {
    // 20×20 pixels of 2 mm rows × 1 mm columns: 40 mm tall, 20 mm wide
    const p = placement(20, 20, 16, [2, 1], 'aspect');
    expect(p).toEqual({ scaleY: 0.8, scaleX: 0.4, offY: 0, offX: 4 });
    const q = placement(20, 20, 16, [2, 1], 4);
    expect(q).toEqual({ scaleY: 0.5, scaleX: 0.25, offY: 3, offX: 5.5 });
    expect(placement(20, 40, 16, [2, 1], 'ignore')).toEqual({ scaleY: 0.4, scaleX: 0.4, offY: 4, offX: 0 });
  });

  it('resizes masks the same way, nearest and binarised', () => {
    const rows = 8;
    const cols = 16;
    const m = Float32Array.from({ length: rows * cols }, (_, i) => (i % cols >= 8 ? 255 : 0));
    const out = preprocessMask(image(rows, cols, m, { format: 'png' }), parsePreprocess({ size: 8 }), { rows, columns: cols, pixelSpacing: null });
    // the 8×16 image occupies rows 2–5; its right half is foreground
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) expect(out[y * 8 + x]).toBe(y >= 2 && y < 6 && x >= 4 ? 1 : 0);
  });
});

describe('channels, inversion, normalisation', () => {
  it('grey → RGB repeats, RGB → grey is BT.601 luma', () => {
    expect(Array.from(convertChannels(Float32Array.from([0.25, 1]), 1, 3))).toEqual([0.25, 0.25, 0.25, 1, 1, 1]);
    expect(convertChannels(Float32Array.from([1, 0, 0, 0.5, 0.5, 0.5]), 3, 1)[0]).toBeCloseTo(0.299, 6);
  });

  it('MONOCHROME1 is inverted', () => {
    const v = Float32Array.from({ length: 64 }, (_, i) => i * 10);
    const cfg = parsePreprocess({ size: 8, window: 'minmax' });
    const a = preprocessImage(image(8, 8, v), cfg);
    const b = preprocessImage(image(8, 8, v, { invert: true, photometric: 'MONOCHROME1' }), cfg);
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(1 - x, 6));
  });

  it('z-score gives mean 0 and std 1 over the image, 0 on the padding', () => {
    const v = Float32Array.from({ length: 8 * 16 }, (_, i) => (i * 37) % 101);
    const x = preprocessImage(image(8, 16, v), parsePreprocess({ size: 16, normalize: 'zscore', window: 'minmax' }));
    const inner = Array.from(x.subarray(4 * 16, 12 * 16));
    const mean = inner.reduce((s, a) => s + a, 0) / inner.length;
    const sd = Math.sqrt(inner.reduce((s, a) => s + (a - mean) ** 2, 0) / inner.length);
    expect(mean).toBeCloseTo(0, 5);
    expect(sd).toBeCloseTo(1, 4);
    expect(Array.from(x.subarray(0, 4 * 16)).every((a) => a === 0)).toBe(true);
  });
});

describe('augmentation', () => {
  const size = 12;
  const base = (): Float32Array => Float32Array.from({ length: size * size }, (_, i) => ((i * 7) % 13) / 12);
  const none: AugmentConfig = { flip: 0, rotateDeg: 0, scale: 0, intensity: 0, gamma: 0, noise: 0 };

  it('is repeatable for a seed and differs between seeds', () => {
    const cfg: AugmentConfig = { flip: 0.5, rotateDeg: 10, scale: 0.1, intensity: 0.1, gamma: 0.2, noise: 0.02 };
    const [a, b, c] = [base(), base(), base()];
    augment(a, undefined, size, 1, cfg, new Rng(5));
    augment(b, undefined, size, 1, cfg, new Rng(5));
    augment(c, undefined, size, 1, cfg, new Rng(6));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('a certain flip mirrors image and mask exactly', () => {
    const x = base();
    const m = Float32Array.from({ length: size * size }, (_, i) => (i % size < 3 ? 1 : 0));
    augment(x, m, size, 1, { ...none, flip: 1 }, new Rng(1));
    const src = base();
    for (let y = 0; y < size; y++) {
      for (let k = 0; k < size; k++) {
        expect(x[y * size + k]).toBeCloseTo(src[y * size + size - 1 - k], 6);
        expect(m[y * size + k]).toBe(k >= size - 3 ? 1 : 0);
      }
    }
  });

  it('warps exactly as a per-pixel sampler does (the former implementation, kept here as the reference)', () => {
    function sampleBilinear(s: Float32Array, n: number, ch: number, x: number, y: number, c: number, pad: number): number {
      if (x < -0.5 || y < -0.5 || x > n - 0.5 || y > n - 0.5) return pad;
      const xc = Math.min(n - 1, Math.max(0, x));
      const yc = Math.min(n - 1, Math.max(0, y));
      const x0 = Math.min(n - 2, Math.floor(xc));
      const y0 = Math.min(n - 2, Math.floor(yc));
      const fx = xc - x0;
      const fy = yc - y0;
      const at = (xx: number, yy: number): number => s[(yy * n + xx) * ch + c];
      return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
    }
    function sampleNearest(s: Float32Array, n: number, ch: number, x: number, y: number, c: number, pad: number): number {
      const xi = Math.round(x);
      const yi = Math.round(y);
      return xi < 0 || yi < 0 || xi >= n || yi >= n ? pad : s[(yi * n + xi) * ch + c];
    }
    function reference(src: Float32Array, n: number, ch: number, flip: boolean, angle: number, zoom: number, pad: number, nearest: boolean): Float32Array {
      const out = new Float32Array(src.length);
      const c0 = (n - 1) / 2;
      const cos = Math.cos(angle) / zoom;
      const sin = Math.sin(angle) / zoom;
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          const dx = (flip ? n - 1 - x : x) - c0;
          const dy = y - c0;
          const sx = cos * dx + sin * dy + c0;
          const sy = -sin * dx + cos * dy + c0;
          for (let c = 0; c < ch; c++) out[(y * n + x) * ch + c] = nearest ? sampleNearest(src, n, ch, sx, sy, c, pad) : sampleBilinear(src, n, ch, sx, sy, c, pad);
        }
      }
      return out;
    }
    const rng = new Rng(11);
    for (const [n, ch] of [[12, 1], [9, 3], [16, 2]]) {
      const src = Float32Array.from({ length: n * n * ch }, () => rng.uniform(-2, 2));
      for (const [flip, angle, zoom, nearest] of [[false, 0, 1, false], [true, 0.3, 0.8, false], [false, -0.17, 1.2, false], [true, Math.PI / 2, 1, true], [false, 0.05, 0.9, true]] as const) {
        expect(Array.from(warp(src, n, ch, flip, angle, zoom, -7, nearest))).toEqual(Array.from(reference(src, n, ch, flip, angle, zoom, -7, nearest)));
      }
    }
  });

  it('rotating by 90° moves pixels as a hand rotation does', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i);
    const out = warp(src, 4, 1, false, Math.PI / 2, 1, -1, true);
    // out(y, x) = src at (sx, sy) = (y, 3 − x)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) expect(out[y * 4 + x]).toBe(src[(3 - x) * 4 + y]);
  });

  it('gamma and contrast keep the order of values and stay within the range', () => {
    const x = base();
    augment(x, undefined, size, 1, { ...none, gamma: 0.5 }, new Rng(3));
    const src = base();
    for (let i = 1; i < x.length; i++) if (src[i] > src[0]) expect(x[i]).toBeGreaterThanOrEqual(x[0]);
    expect(Math.min(...x)).toBeCloseTo(0, 6);
    expect(Math.max(...x)).toBeCloseTo(1, 6);
    expect(Array.from(x)).not.toEqual(Array.from(src));
  });

  describe('an imitated lower-grade detector (degrade)', () => {
    /** Direct 2-D Gaussian with clamped edges: a second implementation of the separable blur. */
    function blur2d(src: Float32Array, n: number, sigma: number): Float32Array {
      const r = Math.ceil(3 * sigma);
      const g = (k: number): number => Math.exp(-(k * k) / (2 * sigma * sigma));
      let z = 0;
      for (let k = -r; k <= r; k++) z += g(k);
      const clamp = (v: number): number => Math.min(n - 1, Math.max(0, v));
      const out = new Float32Array(n * n);
      for (let y = 0; y < n; y++) {
        for (let x = 0; x < n; x++) {
          let acc = 0;
          for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) acc += (g(i) * g(j) * src[clamp(y + i) * n + clamp(x + j)]) / (z * z);
          out[y * n + x] = acc;
        }
      }
      return out;
    }

    it('blurs with σ drawn from 0…blur, as a direct 2-D convolution does', () => {
      const x = base();
      degrade(x, size, 1, 1, { p: 1, blur: 2, noise: 0 }, new Rng(9));
      const replay = new Rng(9);
      expect(replay.next()).toBeLessThan(1);
      const sigma = replay.uniform(0, 2);
      expect(sigma).toBeGreaterThan(0.3);
      const want = blur2d(base(), size, sigma);
      for (let i = 0; i < x.length; i++) expect(x[i]).toBeCloseTo(want[i], 5);
    });

    it('adds noise of σ drawn from 0…noise of the range, from the same generator', () => {
      const x = base();
      degrade(x, size, 1, 3, { p: 1, blur: 0, noise: 0.1 }, new Rng(4));
      const replay = new Rng(4);
      replay.next();
      replay.uniform(0, 0);
      const sd = replay.uniform(0, 0.1) * 3;
      const src = base();
      for (let i = 0; i < x.length; i++) expect(x[i]).toBeCloseTo(src[i] + sd * replay.normal(), 6);
    });

    it('blurs every channel on its own: a flat channel stays flat', () => {
      const one = base();
      degrade(one, size, 1, 1, { p: 1, blur: 1.5, noise: 0 }, new Rng(2));
      const two = new Float32Array(size * size * 2);
      base().forEach((v, i) => {
        two[2 * i] = v;
        two[2 * i + 1] = 0.25;
      });
      degrade(two, size, 2, 1, { p: 1, blur: 1.5, noise: 0 }, new Rng(2));
      for (let i = 0; i < one.length; i++) {
        expect(two[2 * i]).toBeCloseTo(one[i], 6);
        expect(two[2 * i + 1]).toBeCloseTo(0.25, 6);
      }
    });

    it('at probability 0 leaves the augmentation as it was without it', () => {
      const cfg: AugmentConfig = { flip: 0.5, rotateDeg: 10, scale: 0.1, intensity: 0.1, gamma: 0.2, noise: 0.02 };
      const [a, b] = [base(), base()];
      augment(a, undefined, size, 1, cfg, new Rng(5));
      augment(b, undefined, size, 1, { ...cfg, degrade: { p: 0, blur: 2, noise: 0.5 } }, new Rng(5));
      expect(Array.from(b)).toEqual(Array.from(a));
      const c = base();
      augment(c, undefined, size, 1, { ...cfg, degrade: { p: 1, blur: 2, noise: 0.5 } }, new Rng(5));
      expect(Array.from(c)).not.toEqual(Array.from(a));
    });
  });
});
