import type { NamedTensor } from '../../core/tensors.ts';

/** Updates summed per pass over the output: fewer passes, less memory traffic. */
const GROUP = 4;

/**
 * out = Σ_k weights[k] · arrays[k], element-wise (the core of FedAvg). Arrays are walked in
 * groups of four so `out` is read and written once per group, not once per array.
 */
export function weightedSum(arrays: readonly Float32Array[], weights: readonly number[], out = new Float32Array(arrays[0]?.length ?? 0)): Float32Array {
  if (arrays.length !== weights.length) throw new Error(`${arrays.length} arrays but ${weights.length} weights`);
  const n = out.length;
  for (const a of arrays) if (a.length !== n) throw new Error(`array of ${a.length} values, expected ${n}`);
  for (let k = 0; k < arrays.length; k += GROUP) {
    const first = k === 0;
    const left = arrays.length - k;
    if (left >= 4) sum4(out, arrays[k], arrays[k + 1], arrays[k + 2], arrays[k + 3], weights[k], weights[k + 1], weights[k + 2], weights[k + 3], first);
    else if (left === 3) sum4(out, arrays[k], arrays[k + 1], arrays[k + 2], arrays[k + 2], weights[k], weights[k + 1], weights[k + 2], 0, first);
    else if (left === 2) sum4(out, arrays[k], arrays[k + 1], arrays[k + 1], arrays[k + 1], weights[k], weights[k + 1], 0, 0, first);
    else sum4(out, arrays[k], arrays[k], arrays[k], arrays[k], weights[k], 0, 0, 0, first);
  }
  return out;
}

function sum4(out: Float32Array, a: Float32Array, b: Float32Array, c: Float32Array, d: Float32Array, wa: number, wb: number, wc: number, wd: number, first: boolean): void {
  const n = out.length;
  if (first) for (let j = 0; j < n; j++) out[j] = wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
  else for (let j = 0; j < n; j++) out[j] += wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
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
