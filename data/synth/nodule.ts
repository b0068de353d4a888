/**
 * Pulmonary nodules for the phantom: either a Gaussian blob or an irregular, lobulated
 * soft-edged blob whose radius varies with angle, of varied size and contrast, placed inside
 * a lung. The ground-truth mask is where the nodule adds at least half its peak density.
 */
import type { Rng } from '../../core/rng.ts';
import { type Anatomy, samplePointInLung } from './anatomy.ts';

/** Ranges a site's nodules are drawn from (normalised units; density units for contrast). */
export interface NoduleRanges {
  /** Half-maximum radius (in half-fields: 1 = 200 mm), min and max. */
  radius: [number, number];
  /** Peak added density, min and max. */
  contrast: [number, number];
}

/** One nodule. `lobes` are [amplitude, phase] of the cos(kθ) terms (k = 2, 3, …); empty for a Gaussian. */
export interface Nodule {
  x: number;
  y: number;
  radius: number;
  contrast: number;
  shape: 'gaussian' | 'lobulated';
  lobes: [number, number][];
}

/**
 * The default ranges: half-maximum radii of 0.05–0.12 half-fields, i.e. 20–48 mm across on the
 * 400 mm field (large nodules and small masses, so that they survive resizing to 64 px), faint to clear.
 */
export const DEFAULT_NODULE_RANGES: NoduleRanges = { radius: [0.05, 0.12], contrast: [0.08, 0.2] };

/** Draws a nodule inside one of the patient's lungs; sizes are log-uniform, so small ones are common. */
export function sampleNodule(rng: Rng, a: Anatomy, ranges: NoduleRanges = DEFAULT_NODULE_RANGES): Nodule {
  const p = samplePointInLung(rng, a);
  const [r0, r1] = ranges.radius;
  const radius = r0 * Math.pow(r1 / r0, rng.next());
  const contrast = rng.uniform(ranges.contrast[0], ranges.contrast[1]);
  const shape = rng.next() < 0.5 ? 'gaussian' : 'lobulated';
  const lobes: [number, number][] = shape === 'lobulated' ? [0, 1, 2].map(() => [rng.uniform(0.05, 0.22), rng.uniform(0, 2 * Math.PI)]) : [];
  return { x: p.x, y: p.y, radius, contrast, shape, lobes };
}

/** Half-extent of the nodule's support, for bounding boxes. */
export function noduleExtent(n: Nodule): number {
  return n.radius * 2.6;
}

/** The density the nodule adds at (x, y) in the patient frame. */
export function noduleDensity(n: Nodule, x: number, y: number): number {
  const dx = x - n.x;
  const dy = y - n.y;
  const rho = Math.hypot(dx, dy);
  if (n.shape === 'gaussian') {
    // half maximum at rho = radius
    return n.contrast * Math.pow(0.5, (rho * rho) / (n.radius * n.radius));
  }
  const theta = Math.atan2(dy, dx);
  let r = n.radius;
  n.lobes.forEach(([amp, phase], i) => {
    r += n.radius * amp * Math.cos((i + 2) * theta + phase);
  });
  // soft edge: exactly half the contrast on the boundary rho = r
  return n.contrast / (1 + Math.exp((rho - r) / (0.15 * n.radius)));
}
