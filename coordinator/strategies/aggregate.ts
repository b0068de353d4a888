import type { NamedTensor } from '../../core/tensors.ts';
import { isShared, PARALLEL_MIN_ELEMENTS, sumPool } from './parallel-sum.ts';
import type { Segment } from './sum-job.ts';
import { sumPasses } from './sum-passes.ts';

/**
 * out = Σ_k weights[k] · arrays[k], element-wise (the core of FedAvg), by sumPasses: arrays in
 * as few passes of at most eight as possible, float64 sums within a pass. When every array and
 * `out` are SharedArrayBuffer-backed and long, the work is split with a worker thread
 * (parallel-sum.ts); the result is bit-identical either way.
 */
export function weightedSum(arrays: readonly Float32Array[], weights: readonly number[], out: Float32Array = new Float32Array(arrays[0]?.length ?? 0)): Float32Array {
  if (arrays.length !== weights.length) throw new Error(`${arrays.length} arrays but ${weights.length} weights`);
  checkLengths(arrays, out.length);
  sumSegments([{ arrays, out }], weights);
  return out;
}

function checkLengths(arrays: readonly Float32Array[], n: number): void {
  for (const a of arrays) if (a.length !== n) throw new Error(`array of ${a.length} values, expected ${n}`);
}

/** Every segment's sum, on two threads when all its arrays are shared and there is enough work. */
function sumSegments(segments: readonly Segment[], weights: readonly number[]): void {
  const elements = segments.reduce((s, g) => s + g.out.length, 0);
  const parallel = weights.length > 0 && elements >= PARALLEL_MIN_ELEMENTS && segments.every((g) => isShared(g.out) && g.arrays.every(isShared));
  if (parallel) sumPool().sum(segments, weights);
  else for (const g of segments) sumPasses(g.arrays, weights, g.out);
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
 * When every site's tensors are SharedArrayBuffer-backed (as the coordinator loads them), the
 * means are too, and all tensors are summed in one job split with a worker thread.
 */
export function weightedMean(results: readonly WeightedTensors[]): NamedTensor[] {
  if (results.length === 0) throw new Error('nothing to aggregate');
  const total = results.reduce((s, r) => s + r.numExamples, 0);
  if (!(total > 0)) throw new Error('aggregation needs a positive number of examples');
  const coef = results.map((r) => r.numExamples / total);
  const shared = results.every((r) => r.weights.every((t) => isShared(t.data)));
  const segments = results[0].weights.map((t, i): Segment => {
    const arrays = results.map((r) => r.weights[i].data);
    checkLengths(arrays, t.data.length);
    return { arrays, out: new Float32Array(shared ? new SharedArrayBuffer(t.data.length * 4) : new ArrayBuffer(t.data.length * 4)) };
  });
  sumSegments(segments, coef);
  return results[0].weights.map((t, i) => ({ name: t.name, shape: [...t.shape], dtype: 'float32', data: segments[i].out }));
}
