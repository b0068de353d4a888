/**
 * The single-thread kernel of FedAvg's weighted sum, shared by the calling thread and the
 * aggregation worker (sum-worker.ts): each element is computed by the same code whichever
 * thread or range computes it, so a sum split across threads is bit-identical to one that is not.
 */

/** Most arrays summed in one pass: beyond eight, V8's loop runs out of registers and slows down. */
const MAX_GROUP = 8;

/**
 * out = Σ_k weights[k] · arrays[k], element-wise, lengths unchecked (callers check). The arrays
 * are split into as few passes of at most eight as possible, of near-equal size (10 → 5 + 5,
 * not 8 + 2), each pass a loop specialised to its count: `out` is written once per pass, and
 * every element is read from each update exactly once. Sums run in float64 within a pass.
 */
export function sumPasses(arrays: readonly Float32Array[], weights: readonly number[], out: Float32Array): Float32Array {
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
