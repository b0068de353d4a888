import type { NamedTensor } from '../../core/tensors.ts';

/**
 * out = Σ_k weights[k] · arrays[k], element-wise (the core of FedAvg). Arrays are summed
 * eight (then four, two, one) per pass, so `out` is read and written once per group rather
 * than once per array: the loop is bound by the loads of the updates, not of `out`.
 */
export function weightedSum(arrays: readonly Float32Array[], weights: readonly number[], out = new Float32Array(arrays[0]?.length ?? 0)): Float32Array {
  if (arrays.length !== weights.length) throw new Error(`${arrays.length} arrays but ${weights.length} weights`);
  const n = out.length;
  for (const a of arrays) if (a.length !== n) throw new Error(`array of ${a.length} values, expected ${n}`);
  let k = 0;
  while (k < arrays.length) {
    const left = arrays.length - k;
    const first = k === 0;
    if (left >= 8) sum8(out, arrays, weights, k, first);
    else if (left >= 4) sum4(out, arrays, weights, k, first);
    else if (left >= 2) sum2(out, arrays, weights, k, first);
    else sum1(out, arrays[k], weights[k], first);
    k += left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
  }
  return out;
}

function sum8(out: Float32Array, A: readonly Float32Array[], W: readonly number[], k: number, first: boolean): void {
  const [a, b, c, d, e, f, g, h] = A.slice(k, k + 8);
  const [wa, wb, wc, wd, we, wf, wg, wh] = W.slice(k, k + 8);
  const n = out.length;
  if (first) for (let j = 0; j < n; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j] + wh * h[j];
  else for (let j = 0; j < n; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j] + we * e[j] + wf * f[j] + wg * g[j] + wh * h[j];
}

function sum4(out: Float32Array, A: readonly Float32Array[], W: readonly number[], k: number, first: boolean): void {
  const [a, b, c, d] = A.slice(k, k + 4);
  const [wa, wb, wc, wd] = W.slice(k, k + 4);
  const n = out.length;
  if (first) for (let j = 0; j < n; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
  else for (let j = 0; j < n; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
}

function sum2(out: Float32Array, A: readonly Float32Array[], W: readonly number[], k: number, first: boolean): void {
  const a = A[k];
  const b = A[k + 1];
  const wa = W[k];
  const wb = W[k + 1];
  const n = out.length;
  if (first) for (let j = 0; j < n; j++) out[j] = wa * a[j] + wb * b[j];
  else for (let j = 0; j < n; j++) out[j] += wa * a[j] + wb * b[j];
}

function sum1(out: Float32Array, a: Float32Array, wa: number, first: boolean): void {
  const n = out.length;
  if (first) for (let j = 0; j < n; j++) out[j] = wa * a[j];
  else for (let j = 0; j < n; j++) out[j] += wa * a[j];
}

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
