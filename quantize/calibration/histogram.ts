/**
 * Activation statistics for static quantization: per-tensor min/max, and a histogram of |x|
 * over fixed bin edges [0, hi] so histograms from different batches — or different sites —
 * merge by adding counts.
 */

/** Bins of an activation histogram (TensorRT uses 2048). */
export const DEFAULT_BINS = 2048;

/** Running min and max of one tensor. */
export interface TensorRange {
  min: number;
  max: number;
}

/** A histogram of |x| with `counts.length` equal bins over [0, hi]; values beyond hi fall in the last bin. */
export interface AbsHistogram {
  hi: number;
  counts: Float64Array;
  /** The tensor's min and max over the same data (for sign and clipping). */
  min: number;
  max: number;
}

/** An empty range, to be widened by updateRange. */
export function emptyRange(): TensorRange {
  return { min: Infinity, max: -Infinity };
}

/** Widens `r` to cover `data`. */
export function updateRange(r: TensorRange, data: ArrayLike<number>): void {
  let { min, max } = r;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  r.min = min;
  r.max = max;
}

/** Merges ranges (e.g. from several batches or sites). */
export function mergeRanges(a: TensorRange, b: TensorRange): TensorRange {
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

/** An empty histogram with fixed edges: `bins` equal bins over [0, hi]. */
export function emptyHistogram(hi: number, bins = DEFAULT_BINS): AbsHistogram {
  if (!(hi >= 0) || !Number.isFinite(hi)) throw new Error(`histogram upper edge must be finite and >= 0, got ${hi}`);
  return { hi, counts: new Float64Array(bins), min: Infinity, max: -Infinity };
}

/** Adds |x| of every value to the histogram (and widens its min/max). */
export function addToHistogram(h: AbsHistogram, data: ArrayLike<number>): void {
  const bins = h.counts.length;
  const perUnit = h.hi > 0 ? bins / h.hi : 0;
  const range = { min: h.min, max: h.max };
  updateRange(range, data);
  h.min = range.min;
  h.max = range.max;
  for (let i = 0; i < data.length; i++) {
    const b = Math.floor(Math.abs(data[i]) * perUnit);
    h.counts[b < bins ? b : bins - 1]++;
  }
}

/** Adds histograms with the same edges (the federated merge: no data, only counts). */
export function mergeHistograms(a: AbsHistogram, b: AbsHistogram): AbsHistogram {
  if (a.hi !== b.hi || a.counts.length !== b.counts.length) throw new Error(`histograms with different edges cannot merge ([0, ${a.hi}]/${a.counts.length} vs [0, ${b.hi}]/${b.counts.length})`);
  const counts = Float64Array.from(a.counts, (c, i) => c + b.counts[i]);
  return { hi: a.hi, counts, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}
