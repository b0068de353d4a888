/**
 * Renders a chest phantom on a square matrix: the anatomy (./anatomy.ts) sampled at pixel
 * centres, vessels and spots stamped within their bounding boxes, an optional nodule, and
 * the nodule's mask. The output is the ideal density image, before any scanner.
 */
import type { Anatomy, Spot, Vessel } from './anatomy.ts';
import { anatomyDensityGrid } from './anatomy.ts';
import { type Nodule, noduleDensity, noduleExtent } from './nodule.ts';

/** An ideal density image (row-major, `size × size`) and its nodule mask (1 = nodule). */
export interface Phantom {
  size: number;
  density: Float32Array;
  mask: Uint8Array;
}

/** Maps between pixel indices and the patient frame (shift, then scale). */
class Frame {
  constructor(
    private readonly size: number,
    private readonly a: Anatomy,
  ) {}

  /** Patient-frame coordinate of pixel column/row index i. */
  x(i: number): number {
    return (((i + 0.5) / this.size) * 2 - 1 - this.a.shiftX) / this.a.scale;
  }

  y(i: number): number {
    return (((i + 0.5) / this.size) * 2 - 1 - this.a.shiftY) / this.a.scale;
  }

  /** Pixel range [lo, hi) covering patient-frame interval [p0, p1] along x (shift sx) or y. */
  range(p0: number, p1: number, shift: number): [number, number] {
    const toPix = (p: number): number => ((p * this.a.scale + shift + 1) / 2) * this.size - 0.5;
    const lo = Math.max(0, Math.floor(toPix(p0)));
    const hi = Math.min(this.size, Math.ceil(toPix(p1)) + 1);
    return [lo, hi];
  }

  /** Index of the pixel whose centre is nearest patient-frame coordinate p (shift sx or sy), clamped. */
  nearest(p: number, shift: number): number {
    const i = Math.round(((p * this.a.scale + shift + 1) / 2) * this.size - 0.5);
    return Math.min(this.size - 1, Math.max(0, i));
  }

  cols(p0: number, p1: number): [number, number] {
    return this.range(p0, p1, this.a.shiftX);
  }

  rows(p0: number, p1: number): [number, number] {
    return this.range(p0, p1, this.a.shiftY);
  }
}

/** Adds a function of the patient frame over a bounding box. */
function stamp(img: Float32Array, size: number, f: Frame, box: [number, number, number, number], fn: (x: number, y: number) => number): void {
  const [c0, c1] = f.cols(box[0], box[2]);
  const [r0, r1] = f.rows(box[1], box[3]);
  for (let r = r0; r < r1; r++) {
    const y = f.y(r);
    for (let c = c0; c < c1; c++) img[r * size + c] += fn(f.x(c), y);
  }
}

function vesselDensity(v: Vessel, x: number, y: number): number {
  const dx = v.x1 - v.x0;
  const dy = v.y1 - v.y0;
  const t = Math.max(0, Math.min(1, ((x - v.x0) * dx + (y - v.y0) * dy) / (dx * dx + dy * dy)));
  const ex = x - (v.x0 + t * dx);
  const ey = y - (v.y0 + t * dy);
  return v.amplitude * Math.exp(-(ex * ex + ey * ey) / (2 * v.width * v.width));
}

function spotDensity(s: Spot, x: number, y: number): number {
  const dx = x - s.x;
  const dy = y - s.y;
  return s.amplitude * Math.exp(-(dx * dx + dy * dy) / (2 * s.sigma * s.sigma));
}

/** Renders the patient (and the nodule, if any) at `size × size` pixels. */
export function renderPhantom(a: Anatomy, nodule: Nodule | null, size: number): Phantom {
  const density = new Float32Array(size * size);
  const f = new Frame(size, a);
  const grid = Array.from({ length: size }, (_, i) => i);
  anatomyDensityGrid(
    a,
    grid.map((c) => f.x(c)),
    grid.map((r) => f.y(r)),
    density,
  );
  for (const v of a.vessels) {
    const m = 3 * v.width;
    const box: [number, number, number, number] = [Math.min(v.x0, v.x1) - m, Math.min(v.y0, v.y1) - m, Math.max(v.x0, v.x1) + m, Math.max(v.y0, v.y1) + m];
    stamp(density, size, f, box, (x, y) => vesselDensity(v, x, y));
  }
  for (const s of a.spots) {
    const m = 3 * s.sigma;
    stamp(density, size, f, [s.x - m, s.y - m, s.x + m, s.y + m], (x, y) => spotDensity(s, x, y));
  }
  const mask = new Uint8Array(size * size);
  if (nodule) {
    const m = noduleExtent(nodule);
    const half = nodule.contrast / 2;
    stamp(density, size, f, [nodule.x - m, nodule.y - m, nodule.x + m, nodule.y + m], (x, y) => noduleDensity(nodule, x, y));
    const [c0, c1] = f.cols(nodule.x - m, nodule.x + m);
    const [r0, r1] = f.rows(nodule.y - m, nodule.y + m);
    for (let r = r0; r < r1; r++) {
      for (let c = c0; c < c1; c++) if (noduleDensity(nodule, f.x(c), f.y(r)) >= half) mask[r * size + c] = 1;
    }
    // a nodule smaller than a pixel still marks the pixel holding its centre
    if (!mask.includes(1)) {
      mask[f.nearest(nodule.y, a.shiftY) * size + f.nearest(nodule.x, a.shiftX)] = 1;
    }
  }
  return { size, density, mask };
}
