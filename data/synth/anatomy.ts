/**
 * The chest phantom's anatomy: a patient is a handful of random shape parameters, and the
 * image is a "density" map (0 ≈ air, 1 ≈ dense bone; bright on a display) evaluated in
 * normalised coordinates x, y ∈ [-1, 1] (x grows toward the patient's left, as on a PA
 * radiograph viewed as usual; y grows toward the feet). Lungs, heart, mediastinum and spine,
 * hemidiaphragms, clavicles, posterior ribs, vessels and a faint parenchymal texture.
 */
import type { Rng } from '../../core/rng.ts';

/** A line segment with a Gaussian cross-section, used for vessels. */
export interface Vessel {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  width: number;
  amplitude: number;
}

/** A round Gaussian spot: vessels seen end-on and texture lumps. */
export interface Spot {
  x: number;
  y: number;
  sigma: number;
  amplitude: number;
}

/** One patient's shape parameters. */
export interface Anatomy {
  shiftX: number;
  shiftY: number;
  scale: number;
  bodyHalfWidth: number;
  lungHalfWidth: number;
  lungHalfHeight: number;
  lungCentreX: number;
  lungCentreY: number;
  diaphragmRight: number;
  diaphragmLeft: number;
  heartX: number;
  heartY: number;
  heartRx: number;
  heartRy: number;
  ribStart: number;
  ribSpacing: number;
  ribTilt: number;
  vessels: Vessel[];
  spots: Spot[];
}

/** Width of the soft edges of organs, in normalised units. */
const EDGE = 0.025;
const RIB_COUNT = 10;
const RIB_HALF_THICKNESS = 0.028;
/** Exponent of the organs' superellipses (superEllipse, anatomyDensityGrid). */
const SUPER = 2.6;

/** Draws a patient. */
export function sampleAnatomy(rng: Rng): Anatomy {
  const a: Anatomy = {
    shiftX: rng.uniform(-0.04, 0.04),
    shiftY: rng.uniform(-0.04, 0.04),
    scale: rng.uniform(0.93, 1.05),
    bodyHalfWidth: rng.uniform(0.82, 0.95),
    lungHalfWidth: rng.uniform(0.24, 0.29),
    lungHalfHeight: rng.uniform(0.5, 0.58),
    lungCentreX: rng.uniform(0.36, 0.41),
    lungCentreY: rng.uniform(-0.1, -0.02),
    diaphragmRight: rng.uniform(0.36, 0.44),
    diaphragmLeft: rng.uniform(0.42, 0.5),
    heartX: rng.uniform(0.08, 0.16),
    heartY: rng.uniform(0.2, 0.28),
    heartRx: rng.uniform(0.22, 0.3),
    heartRy: rng.uniform(0.18, 0.24),
    ribStart: rng.uniform(-0.62, -0.55),
    ribSpacing: rng.uniform(0.105, 0.125),
    ribTilt: rng.uniform(0.22, 0.32),
    vessels: [],
    spots: [],
  };
  a.vessels = sampleVessels(rng, a);
  a.spots = sampleSpots(rng, a);
  return a;
}

/** Vascular trees: a few branching polylines per lung, fanning out from the hilum and thinning. */
function sampleVessels(rng: Rng, a: Anatomy): Vessel[] {
  const out: Vessel[] = [];
  for (const side of [-1, 1]) {
    const trees = 6 + rng.int(3);
    for (let t = 0; t < trees; t++) {
      let x = side * (a.lungCentreX - 0.2);
      let y = a.lungCentreY + 0.1 + rng.uniform(-0.05, 0.05);
      let angle = Math.PI / 2 - side * (Math.PI / 2) + side * rng.uniform(-1.3, 1.3);
      let width = rng.uniform(0.01, 0.016);
      for (let s = 0; s < 4; s++) {
        const len = rng.uniform(0.08, 0.14);
        const nx = x + Math.cos(angle) * len;
        const ny = y + Math.sin(angle) * len;
        out.push({ x0: x, y0: y, x1: nx, y1: ny, width, amplitude: rng.uniform(0.035, 0.06) });
        x = nx;
        y = ny;
        angle += rng.uniform(-0.5, 0.5);
        width *= 0.7;
      }
    }
  }
  return out;
}

/** End-on vessels and small lumps inside the lungs: nodule-like distractors present in every image. */
function sampleSpots(rng: Rng, a: Anatomy): Spot[] {
  const out: Spot[] = [];
  const n = 8 + rng.int(8);
  for (let i = 0; i < n; i++) {
    const p = samplePointInLung(rng, a);
    out.push({ x: p.x, y: p.y, sigma: rng.uniform(0.008, 0.02), amplitude: rng.uniform(0.02, 0.06) });
  }
  return out;
}

/** A point well inside a lung (rejection sampling on the lung field). */
export function samplePointInLung(rng: Rng, a: Anatomy): { x: number; y: number } {
  for (let tries = 0; tries < 1000; tries++) {
    const side = rng.next() < 0.5 ? -1 : 1;
    const x = side * a.lungCentreX + rng.uniform(-1, 1) * a.lungHalfWidth;
    const y = a.lungCentreY + rng.uniform(-1, 1) * a.lungHalfHeight;
    if (lungField(a, x, y) > 0.95) return { x, y };
  }
  return { x: -a.lungCentreX, y: a.lungCentreY };
}

function sigmoid(t: number): number {
  return 1 / (1 + Math.exp(-t));
}

/** Soft inside-ness of an ellipse-like superellipse of exponent SUPER (2.6); anatomyDensityGrid splits it into per-column and per-row terms. */
function superEllipse(x: number, y: number, cx: number, cy: number, rx: number, ry: number): number {
  const u = Math.abs(x - cx) / rx;
  const v = Math.abs(y - cy) / ry;
  const r = Math.pow(Math.pow(u, SUPER) + Math.pow(v, SUPER), 1 / SUPER);
  return sigmoid(((1 - r) * Math.min(rx, ry)) / EDGE);
}

/** Height of the hemidiaphragm dome under the lung on `side` at x. */
function diaphragm(a: Anatomy, x: number): number {
  const side = x < 0 ? -1 : 1;
  const top = side < 0 ? a.diaphragmRight : a.diaphragmLeft;
  const u = (x - side * a.lungCentreX) / (a.lungHalfWidth * 1.3);
  return top + 0.18 * u * u;
}

/** Soft lung field (0 outside, 1 inside), narrow at the apex, bounded below by the hemidiaphragms. */
export function lungField(a: Anatomy, x: number, y: number): number {
  const side = x < 0 ? -1 : 1;
  const v = Math.max(-1, Math.min(1, (y - a.lungCentreY) / a.lungHalfHeight));
  const halfWidth = a.lungHalfWidth * (0.8 + 0.2 * v);
  const centreX = side * (a.lungCentreX + 0.06 * v);
  const lung = superEllipse(x, y, centreX, a.lungCentreY, halfWidth, a.lungHalfHeight);
  return lung * sigmoid((diaphragm(a, x) - y) / EDGE);
}

/** Centre line of posterior rib k on `side` at x: rising from the spine, then curving down laterally. */
function ribY(a: Anatomy, k: number, ax: number): number {
  const u = (ax - 0.06) / 0.8;
  return a.ribStart + k * a.ribSpacing - 0.09 * Math.sin(Math.PI * Math.min(u, 1) * 0.9) + a.ribTilt * u * u;
}

/** What anatomyDensityGrid computes once per column: every term of the density that depends on x alone. */
interface ColumnTerms {
  ax: Float64Array;
  /** bodyHalfWidth − |x|. */
  bodyEdge: Float64Array;
  /** |(x − heartX) / heartRx| to the power SUPER. */
  heartU: Float64Array;
  diaphragm: Float64Array;
  spine: Float64Array;
  /** Whether the ribs and clavicles reach the column, and their centre lines there (RIB_COUNT per column). */
  hasBone: Uint8Array;
  ribY: Float64Array;
  clavicleY: Float64Array;
}

function columnTerms(a: Anatomy, xs: ArrayLike<number>): ColumnTerms {
  const n = xs.length;
  const t: ColumnTerms = { ax: new Float64Array(n), bodyEdge: new Float64Array(n), heartU: new Float64Array(n), diaphragm: new Float64Array(n), spine: new Float64Array(n), hasBone: new Uint8Array(n), ribY: new Float64Array(n * RIB_COUNT), clavicleY: new Float64Array(n) };
  for (let c = 0; c < n; c++) {
    const x = xs[c];
    const ax = Math.abs(x);
    t.ax[c] = ax;
    t.bodyEdge[c] = a.bodyHalfWidth - ax;
    t.heartU[c] = Math.pow(Math.abs(x - a.heartX) / a.heartRx, SUPER);
    t.diaphragm[c] = diaphragm(a, x);
    t.spine[c] = sigmoid((0.075 - ax) / 0.015);
    t.hasBone[c] = ax < 0.06 || ax > a.bodyHalfWidth - 0.02 ? 0 : 1;
    for (let k = 0; k < RIB_COUNT; k++) t.ribY[c * RIB_COUNT + k] = ribY(a, k, ax);
    t.clavicleY[c] = -0.66 - 0.12 * (ax - 0.1);
  }
  return t;
}

/**
 * Density of the anatomy (without vessels, spots or nodules) on the grid of patient-frame
 * columns `xs` and rows `ys`, into `out` row by row. The organs are soft shapes: a body, the
 * heart and lungs as superellipses of exponent 2.6 with sigmoid edges, spine and mediastinum,
 * the abdomen under the hemidiaphragms, and ribs and clavicles. Terms that depend on x alone or
 * y alone are computed once per column or row, with the same operations in the same order as
 * at a single point, so each pixel's value is the pointwise formula's to the last bit
 * (test/data/synth-phantom.test.ts keeps that formula as the reference).
 */
export function anatomyDensityGrid(a: Anatomy, xs: ArrayLike<number>, ys: ArrayLike<number>, out: Float32Array): void {
  const t = columnTerms(a, xs);
  const n = xs.length;
  const heartMin = Math.min(a.heartRx, a.heartRy);
  for (let r = 0; r < ys.length; r++) {
    const y = ys[r];
    const shoulder = y < -0.7 ? 0.9 * (-0.7 - y) : 0;
    const yy = 0.04 * y * y;
    const bodyLow = sigmoid((y + 0.98) / EDGE);
    const heartV = Math.pow(Math.abs(y - a.heartY) / a.heartRy, SUPER);
    // lungField's row terms: the lung narrows toward the apex and leans
    const v = Math.max(-1, Math.min(1, (y - a.lungCentreY) / a.lungHalfHeight));
    const halfWidth = a.lungHalfWidth * (0.8 + 0.2 * v);
    const lungCentre = a.lungCentreX + 0.06 * v;
    const lungV = Math.pow(Math.abs(y - a.lungCentreY) / a.lungHalfHeight, SUPER);
    const lungMin = Math.min(halfWidth, a.lungHalfHeight);
    const mediastinumEdge = 0.13 + 0.05 * Math.max(y, 0);
    for (let c = 0; c < n; c++) {
      const x = xs[c];
      const ax = t.ax[c];
      const body = sigmoid((t.bodyEdge[c] - yy - shoulder) / EDGE) * bodyLow;
      const heart = sigmoid(((1 - Math.pow(t.heartU[c] + heartV, 1 / SUPER)) * heartMin) / EDGE);
      const side = x < 0 ? -1 : 1;
      const lungU = Math.pow(Math.abs(x - side * lungCentre) / halfWidth, SUPER);
      const lungShape = sigmoid(((1 - Math.pow(lungU + lungV, 1 / SUPER)) * lungMin) / EDGE);
      const lung = lungShape * sigmoid((t.diaphragm[c] - y) / EDGE) * (1 - 0.75 * heart);
      const mediastinum = sigmoid((mediastinumEdge - ax) / EDGE);
      const abdomen = sigmoid((y - t.diaphragm[c]) / EDGE) * body;
      let bone = 0;
      if (t.hasBone[c]) {
        for (let k = 0; k < RIB_COUNT; k++) {
          const dy = (y - t.ribY[c * RIB_COUNT + k]) / RIB_HALF_THICKNESS;
          if (dy > -1.6 && dy < 1.6) bone += 0.05 * Math.exp(-(dy * dy * dy * dy));
        }
        const clav = (y - t.clavicleY[c]) / 0.035;
        if (ax < 0.62) bone += 0.09 * Math.exp(-clav * clav * clav * clav);
      }
      out[r * n + c] = 0.03 + 0.45 * body - 0.3 * lung + 0.1 * heart + 0.07 * mediastinum * body + 0.12 * t.spine[c] * body + 0.12 * abdomen + bone * body;
    }
  }
}
