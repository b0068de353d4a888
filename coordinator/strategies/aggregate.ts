import type { NamedTensor } from '../../core/tensors.ts';

/** Most arrays summed in one pass: beyond eight, V8's loop runs out of registers and slows down. */
const MAX_GROUP = 8;

/**
 * out = Σ_k weights[k] · arrays[k], element-wise (the core of FedAvg). The arrays are split
 * into as few passes of at most eight as possible, of near-equal size (10 → 5 + 5, not
 * 8 + 2), each pass a loop specialised to its count: `out` is written once per pass, and
 * every element is read from each update exactly once. Sums run in float64 within a pass.
 */
export function weightedSum(arrays: readonly Float32Array[], weights: readonly number[], out = new Float32Array(arrays[0]?.length ?? 0)): Float32Array {
  if (arrays.length !== weights.length) throw new Error(`${arrays.length} arrays but ${weights.length} weights`);
  const n = out.length;
  for (const a of arrays) if (a.length !== n) throw new Error(`array of ${a.length} values, expected ${n}`);
  if (arrays.length === 0) return out.fill(0);
  const passes = Math.ceil(arrays.length / MAX_GROUP);
  let k = 0;
  for (let p = 0; p < passes; p++) {
    const size = Math.ceil((arrays.length - k) / (passes - p));
    SUMS[size](out, arrays.slice(k, k + size), weights.slice(k, k + size), p === 0);
    k += size;
  }
  return out;
}

/** One pass over `A.length` arrays: out = Σ w·a (first pass) or out += Σ w·a. */
type Pass = (out: Float32Array, A: readonly Float32Array[], W: readonly number[], first: boolean) => void;

// One function per count, so each loop body is straight-line code over local variables.
const SUMS: readonly Pass[] = [
  () => {},
  (out, [a], [wa], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j];
  },
  (out, [a, b], [wa, wb], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j];
  },
  (out, [a, b, c], [wa, wb, wc], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j];
  },
  (out, [a, b, c, d], [wa, wb, wc, wd], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
  },
  (out, [a, b, c, d, e], [wa, wb, wc, wd, we], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j];
  },
  (out, [a, b, c, d, e, f], [wa, wb, wc, wd, we, wf], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j];
  },
  (out, [a, b, c, d, e, f, g], [wa, wb, wc, wd, we, wf, wg], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j];
  },
  (out, [a, b, c, d, e, f, g, h], [wa, wb, wc, wd, we, wf, wg, wh], first) => {
    if (first) for (let j = 0; j < out.length; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j] + wh * h[j];
    else for (let j = 0; j < out.length; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j] + wh * h[j];
  },
];

/** One site's weights and how many examples they were trained on. */
export interface WeightedTensors {
  weights: readonly NamedTensor[];
  numExamples: number;
}

/**
 * The example-weighted mean of the sites' weights, tensor by tensor:
 * w = Σ_k (n_k / n) · w_k (McMahan et al. 2017, "Communication-Efficient Learning of
 * Deep Networks from Decentralized Data", Algorithm 1). Names and shapes come from the first site.
 */
export function weightedMean(results: readonly WeightedTensors[]): NamedTensor[] {
  if (results.length === 0) throw new Error('nothing to aggregate');
  const total = results.reduce((s, r) => s + r.numExamples, 0);
  if (!(total > 0)) throw new Error('aggregation needs a positive number of examples');
  const coef = results.map((r) => r.numExamples / total);
  return results[0].weights.map((t, i) => ({
    name: t.name,
    shape: [...t.shape],
    dtype: 'float32',
    data: weightedSum(
      results.map((r) => r.weights[i].data),
      coef,
    ),
  }));
}
