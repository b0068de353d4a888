import type { AbsHistogram, TensorRange } from './histogram.ts';

/** How activation ranges are chosen from the calibration statistics. */
export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
/** The calibration methods, for flags and help texts. */
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];
/** The default percentile of |x| kept by the percentile method. */
export const DEFAULT_PERCENTILE = 99.99;

/** MinMax: the observed range itself. */
export function minMaxRange(r: TensorRange): TensorRange {
  return { min: r.min, max: r.max };
}

/** Clips the observed range to ±threshold. */
function clipRange(h: AbsHistogram, threshold: number): TensorRange {
  return { min: Math.max(h.min, -threshold), max: Math.min(h.max, threshold) };
}

/**
 * Percentile: the threshold t is the upper edge of the first bin where the cumulative share
 * of |x| reaches `percentile`%; the range is the observed one clipped to ±t (as ONNX
 * Runtime's percentile calibrator does on |x|).
 */
export function percentileRange(h: AbsHistogram, percentile = DEFAULT_PERCENTILE): TensorRange {
  if (!(percentile > 0 && percentile <= 100)) throw new Error(`percentile must be in (0, 100], got ${percentile}`);
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total === 0) return clipRange(h, h.hi);
  const width = h.hi / h.counts.length;
  const want = (total * percentile) / 100;
  let cum = 0;
  for (let i = 0; i < h.counts.length; i++) {
    cum += h.counts[i];
    if (cum >= want) return clipRange(h, (i + 1) * width);
  }
  return clipRange(h, h.hi);
}

/** KL(P‖Q) of two unnormalised distributions of the same length; Q's empty bins where P is not get a small ε. */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i];
    sq += q[i];
  }
  if (sp === 0 || sq === 0) return Infinity;
  const EPS = 1e-10;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    const pi = p[i] / sp;
    const qi = Math.max(q[i] / sq, EPS);
    kl += pi * Math.log(pi / qi);
  }
  return kl;
}

/**
 * The quantised candidate Q of TensorRT's entropy calibration: the first `n` bins merged into
 * `levels` groups, each group's mass spread evenly over its non-empty bins.
 */
export function quantizedCandidate(counts: ArrayLike<number>, n: number, levels: number): Float64Array {
  const q = new Float64Array(n);
  const perLevel = n / levels;
  for (let l = 0; l < levels; l++) {
    const start = Math.floor(l * perLevel);
    const end = l === levels - 1 ? n : Math.floor((l + 1) * perLevel);
    let mass = 0;
    let nonEmpty = 0;
    for (let i = start; i < end; i++) {
      mass += counts[i];
      if (counts[i] !== 0) nonEmpty++;
    }
    if (nonEmpty === 0) continue;
    for (let i = start; i < end; i++) if (counts[i] !== 0) q[i] = mass / nonEmpty;
  }
  return q;
}

/**
 * KL(P‖Q) for threshold bin i without building arrays: P = counts[0, i) with `outliers` added
 * to bin i−1; Q = quantizedCandidate(counts, i, levels). Same result as klDivergence on them.
 */
function clippedKl(counts: Float64Array, i: number, levels: number, outliers: number): number {
  const EPS = 1e-10;
  let sp = outliers;
  for (let k = 0; k < i; k++) sp += counts[k];
  const sq = sp - outliers; // Q keeps the mass of counts[0, i)
  if (sp === 0 || sq === 0) return Infinity;
  const perLevel = i / levels;
  let kl = 0;
  for (let l = 0; l < levels; l++) {
    const start = Math.floor(l * perLevel);
    const end = l === levels - 1 ? i : Math.floor((l + 1) * perLevel);
    let mass = 0;
    let nonEmpty = 0;
    for (let k = start; k < end; k++) {
      mass += counts[k];
      if (counts[k] !== 0) nonEmpty++;
    }
    for (let k = start; k < end; k++) {
      const pk = (counts[k] + (k === i - 1 ? outliers : 0)) / sp;
      if (pk === 0) continue;
      const qk = counts[k] !== 0 ? Math.max(mass / nonEmpty / sq, EPS) : EPS;
      kl += pk * Math.log(pk / qk);
    }
  }
  return kl;
}

/**
 * Entropy (KL) calibration, as in TensorRT (Migacz 2017, "8-bit Inference with TensorRT",
 * GTC): for each candidate threshold bin i ≥ levels, P is the histogram's first i bins with
 * the outliers added to bin i−1, Q is P's first i bins quantised to `levels` levels; the
 * threshold minimising KL(P‖Q) wins. `levels` defaults to 256 for non-negative tensors
 * (uint8 covers [0, t]) and 128 otherwise (each sign gets half of uint8's levels).
 */
export function entropyRange(h: AbsHistogram, levels = h.min >= 0 ? 256 : 128): TensorRange {
  const bins = h.counts.length;
  const width = h.hi / bins;
  if (bins <= levels) return clipRange(h, h.hi);
  let bestI = bins;
  let bestKl = Infinity;
  let outliers = 0;
  for (let i = bins - 1; i >= levels; i--) outliers += h.counts[i];
  for (let i = levels; i <= bins; i++) {
    // outliers = mass of bins [i, bins)
    const kl = clippedKl(h.counts, i, levels, outliers);
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
    if (i < bins) outliers -= h.counts[i];
  }
  return clipRange(h, bestI * width);
}

/** The range `method` picks for one tensor. */
export function chooseRange(method: CalibrationMethod, range: TensorRange, hist: AbsHistogram | undefined, percentile = DEFAULT_PERCENTILE): TensorRange {
  if (method === 'minmax') return minMaxRange(range);
  if (!hist) throw new Error(`${method} calibration needs a histogram`);
  return method === 'percentile' ? percentileRange(hist, percentile) : entropyRange(hist);
}
