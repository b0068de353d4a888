import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { anatomyDensityGrid, lungField, sampleAnatomy, type Anatomy } from '../../data/synth/anatomy.ts';
import { planSite } from '../../data/synth/federation.ts';
import { siteMatrix, synthesizeImage } from '../../data/synth/image.ts';
import { sampleNodule, noduleDensity } from '../../data/synth/nodule.ts';
import { renderPhantom } from '../../data/synth/phantom.ts';
import { gaussianBlur } from '../../data/preprocess/blur.ts';
import { acquire } from '../../data/synth/scanner.ts';
import { siteName, siteProfiles } from '../../data/synth/sites.ts';
import { correlation } from '../helpers/stats.ts';

const SIZE = 96;

function mean(a: ArrayLike<number>, keep: (i: number) => boolean): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (!keep(i)) continue;
    s += a[i];
    n++;
  }
  return s / n;
}

/**
 * The anatomy's density at one point, as data/synth/anatomy.ts computed it pixel by pixel before
 * anatomyDensityGrid hoisted the per-column and per-row terms: the reference the grid must equal
 * to the last bit, so every synthetic federation (and every figure measured on one) stays as it was.
 */
function pointwiseDensity(a: Anatomy, x: number, y: number): number {
  const EDGE = 0.025;
  const sigmoid = (t: number): number => 1 / (1 + Math.exp(-t));
  const superEllipse = (cx: number, cy: number, rx: number, ry: number): number => {
    const u = Math.abs(x - cx) / rx;
    const v = Math.abs(y - cy) / ry;
    const r = Math.pow(Math.pow(u, 2.6) + Math.pow(v, 2.6), 1 / 2.6);
    return sigmoid(((1 - r) * Math.min(rx, ry)) / EDGE);
  };
  const diaphragm = (): number => {
    const side = x < 0 ? -1 : 1;
    const u = (x - side * a.lungCentreX) / (a.lungHalfWidth * 1.3);
    return (side < 0 ? a.diaphragmRight : a.diaphragmLeft) + 0.18 * u * u;
  };
  const lungField = (): number => {
    const v = Math.max(-1, Math.min(1, (y - a.lungCentreY) / a.lungHalfHeight));
    const lung = superEllipse((x < 0 ? -1 : 1) * (a.lungCentreX + 0.06 * v), a.lungCentreY, a.lungHalfWidth * (0.8 + 0.2 * v), a.lungHalfHeight);
    return lung * sigmoid((diaphragm() - y) / EDGE);
  };
  const bones = (): number => {
    const ax = Math.abs(x);
    if (ax < 0.06 || ax > a.bodyHalfWidth - 0.02) return 0;
    let d = 0;
    for (let k = 0; k < 10; k++) {
      const u = (ax - 0.06) / 0.8;
      const rib = a.ribStart + k * a.ribSpacing - 0.09 * Math.sin(Math.PI * Math.min(u, 1) * 0.9) + a.ribTilt * u * u;
      const dy = (y - rib) / 0.028;
      if (dy > -1.6 && dy < 1.6) d += 0.05 * Math.exp(-(dy * dy * dy * dy));
    }
    const clav = (y - (-0.66 - 0.12 * (ax - 0.1))) / 0.035;
    if (ax < 0.62) d += 0.09 * Math.exp(-clav * clav * clav * clav);
    return d;
  };
  const shoulder = y < -0.7 ? 0.9 * (-0.7 - y) : 0;
  const body = sigmoid((a.bodyHalfWidth - Math.abs(x) - 0.04 * y * y - shoulder) / EDGE) * sigmoid((y + 0.98) / EDGE);
  const heart = superEllipse(a.heartX, a.heartY, a.heartRx, a.heartRy);
  const lung = lungField() * (1 - 0.75 * heart);
  const spine = sigmoid((0.075 - Math.abs(x)) / 0.015);
  const mediastinum = sigmoid((0.13 + 0.05 * Math.max(y, 0) - Math.abs(x)) / EDGE);
  const abdomen = sigmoid((y - diaphragm()) / EDGE) * body;
  return 0.03 + 0.45 * body - 0.3 * lung + 0.1 * heart + 0.07 * mediastinum * body + 0.12 * spine * body + 0.12 * abdomen + bones() * body;
}

describe('anatomy density on a grid', () => {
  it('equals the pointwise formula bit for bit, on every pixel of 20 patients at two sizes and on an uneven grid', () => {
    for (let p = 0; p < 20; p++) {
      const a = sampleAnatomy(new Rng(500 + p).fork('anatomy'));
      for (const size of [64, 131]) {
        const coords = Array.from({ length: size }, (_, i) => (((i + 0.5) / size) * 2 - 1 - a.shiftX) / a.scale);
        const grid = new Float32Array(size * size);
        anatomyDensityGrid(a, coords, coords, grid);
        const ref = Float32Array.from({ length: size * size }, (_, i) => pointwiseDensity(a, coords[i % size], coords[Math.floor(i / size)]));
        expect(Buffer.from(grid.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      }
      // a grid that is not square, with points on both sides of x = 0 and beyond the body
      const xs = [-1.2, -0.61, -0.0001, 0, 0.05, 0.3, 0.95];
      const ys = [-0.99, -0.7, 0.1, 0.9];
      const out = new Float32Array(xs.length * ys.length);
      anatomyDensityGrid(a, xs, ys, out);
      expect(Array.from(out)).toEqual(ys.flatMap((y) => xs.map((x) => Math.fround(pointwiseDensity(a, x, y)))));
    }
  });
});

describe('chest phantom', () => {
  it('has dark lungs, a bright spine and abdomen, and the nodule only inside a lung', () => {
    for (let p = 0; p < 10; p++) {
      const rng = new Rng(p);
      const a = sampleAnatomy(rng.fork('anatomy'));
      const n = sampleNodule(rng.fork('nodule'), a);
      expect(lungField(a, n.x, n.y)).toBeGreaterThan(0.95);
      const { density } = renderPhantom(a, null, SIZE);
      const xy = (i: number): [number, number] => [(((i % SIZE) + 0.5) / SIZE) * 2 - 1, ((Math.floor(i / SIZE) + 0.5) / SIZE) * 2 - 1];
      const lung = mean(density, (i) => lungField(a, ...xy(i)) > 0.95);
      const spine = mean(density, (i) => Math.abs(xy(i)[0]) < 0.03 && Math.abs(xy(i)[1]) < 0.5);
      const abdomen = mean(density, (i) => xy(i)[1] > 0.8 && Math.abs(xy(i)[0]) < 0.5);
      expect(spine - lung).toBeGreaterThan(0.2);
      expect(abdomen - lung).toBeGreaterThan(0.2);
    }
  });

  it('adds the nodule where its mask is, at least half its contrast on every mask pixel, and nothing far away', () => {
    for (let p = 0; p < 10; p++) {
      const rng = new Rng(100 + p);
      const a = sampleAnatomy(rng.fork('anatomy'));
      const n = sampleNodule(rng.fork('nodule'), a);
      const plain = renderPhantom(a, null, SIZE);
      const withNodule = renderPhantom(a, n, SIZE);
      expect(plain.mask.every((v) => v === 0)).toBe(true);
      let inMask = 0;
      for (let i = 0; i < SIZE * SIZE; i++) {
        const added = withNodule.density[i] - plain.density[i];
        if (withNodule.mask[i]) {
          inMask++;
          expect(added).toBeGreaterThanOrEqual(n.contrast / 2 - 1e-6);
        } else {
          expect(added).toBeLessThanOrEqual(n.contrast / 2 + 1e-6);
        }
        const x = (((i % SIZE) + 0.5) / SIZE) * 2 - 1;
        const y = ((Math.floor(i / SIZE) + 0.5) / SIZE) * 2 - 1;
        const px = (x - a.shiftX) / a.scale;
        const py = (y - a.shiftY) / a.scale;
        if (Math.hypot(px - n.x, py - n.y) > 4 * n.radius) expect(added).toBeLessThan(0.01 * n.contrast);
      }
      // the mask's area is close to the half-maximum disc's (π r², lobulation changes it a little)
      const disc = Math.PI * (((n.radius * a.scale) / 2) * SIZE) ** 2;
      expect(inMask / disc).toBeGreaterThan(0.6);
      expect(inMask / disc).toBeLessThan(1.5);
      expect(noduleDensity(n, n.x, n.y)).toBeGreaterThan(n.contrast / 2);
    }
  });
});

describe('scanners', () => {
  const profiles = siteProfiles(6, 1, 3);

  it('store brighter-on-display values for denser tissue at every site, MONOCHROME1 included', () => {
    const a = sampleAnatomy(new Rng(5));
    const { density } = renderPhantom(a, null, 64);
    for (const p of profiles) {
      const img = acquire(p.scanner, density, 64, new Rng(9));
      const sign = img.photometric === 'MONOCHROME1' ? -1 : 1;
      const display = Array.from(img.stored, (v) => sign * (v * img.rescaleSlope + img.rescaleIntercept));
      expect(correlation(display, Array.from(density))).toBeGreaterThan(0.95);
      const lo = -(2 ** (img.bitsStored - 1)) * img.pixelRepresentation;
      const hi = lo + 2 ** img.bitsStored - 1;
      expect(Math.min(...img.stored)).toBeGreaterThanOrEqual(lo);
      expect(Math.max(...img.stored)).toBeLessThanOrEqual(hi);
      // the file's window spans the lung field and the mediastinum
      const lungs = mean(display, (i) => density[i] < 0.3 && density[i] > 0.15);
      const wLo = sign * (img.windowCenter - img.windowWidth / 2);
      const wHi = sign * (img.windowCenter + img.windowWidth / 2);
      expect(lungs).toBeGreaterThan(Math.min(wLo, wHi));
      expect(lungs).toBeLessThan(Math.max(wLo, wHi));
    }
  });

  it('blurs with a normalised Gaussian: a delta becomes the separable kernel', () => {
    const n = 15;
    const img = new Float32Array(n * n);
    img[7 * n + 7] = 1;
    gaussianBlur(img, n, 1.2);
    const g = (d: number): number => Math.exp(-(d * d) / (2 * 1.44));
    let z = 0;
    for (let d = -4; d <= 4; d++) z += g(d);
    expect(img.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    expect(img[7 * n + 7]).toBeCloseTo(1 / (z * z), 6);
    expect(img[7 * n + 9]).toBeCloseTo(g(2) / (z * z), 6);
    expect(img[5 * n + 8]).toBeCloseTo((g(2) * g(1)) / (z * z), 6);
  });

  it('names sites past z and jitters the archetypes for sites past the fourth', () => {
    expect([0, 25, 26, 27].map(siteName)).toEqual(['site-a', 'site-z', 'site-aa', 'site-ab']);
    expect(profiles[4].scanner.photometric).toBe(profiles[0].scanner.photometric);
    expect(profiles[4].scanner.gamma).not.toBe(profiles[0].scanner.gamma);
    expect(profiles.map((p) => p.sizeFactor)).toEqual([3, 1, 1, 1, 1, 1]);
    expect(profiles.map((p) => siteMatrix(128, p)).slice(0, 4)).toEqual([128, 128, 96, 64]);
  });
});

describe('site plans', () => {
  it('draw round(prevalence·n) positives and a stratified test split, the same for the same seed', () => {
    const [site] = siteProfiles(1, 4, 3);
    const plan = planSite(4, site, 40, 0.25);
    expect(plan.filter((p) => p.label === 1).length).toBe(Math.round(site.prevalence * 40));
    const test = plan.filter((p) => p.split === 'test');
    expect(test.filter((p) => p.label === 1).length).toBe(Math.round(Math.round(site.prevalence * 40) * 0.25));
    expect(test.filter((p) => p.label === 0).length).toBe(Math.round((40 - Math.round(site.prevalence * 40)) * 0.25));
    expect(planSite(4, site, 40, 0.25)).toEqual(plan);
    expect(planSite(5, site, 40, 0.25).map((p) => p.label)).not.toEqual(plan.map((p) => p.label));
  });

  it('hold out exactly the asked number of test images, stratified, and leave both classes for training', () => {
    const [, site] = siteProfiles(2, 4, 3); // site-b, prevalence 0.25
    const plan = planSite(4, site, 1160, { images: 1000 });
    const positives = Math.round(0.25 * 1160); // 290
    const test = plan.filter((p) => p.split === 'test');
    expect(test.length).toBe(1000);
    expect(test.filter((p) => p.label === 1).length).toBe(Math.round((1000 * 290) / 1160)); // 250
    const train = plan.filter((p) => p.split === 'train');
    expect(train.length).toBe(160);
    expect(train.filter((p) => p.label === 1).length).toBe(positives - 250);
    // the labels are drawn as with a fraction: only the split differs
    expect(plan.map((p) => p.label)).toEqual(planSite(4, site, 1160, 0.5).map((p) => p.label));
    expect(() => planSite(4, site, 20, { images: 19 })).toThrow(/site-b: a test split of 19 images does not fit: it needs at least 2, and 2 images of each class left for training/);
  });

  it('give different images for different seeds and the same bytes for the same one', () => {
    const [site] = siteProfiles(1, 0, 3);
    const a = synthesizeImage(1, site, 0, true, 48);
    expect(Buffer.compare(Buffer.from(a.dicom), Buffer.from(synthesizeImage(1, site, 0, true, 48).dicom))).toBe(0);
    expect(Buffer.compare(Buffer.from(a.dicom), Buffer.from(synthesizeImage(2, site, 0, true, 48).dicom))).not.toBe(0);
  });
});
