/**
 * out[s, …] = Σ_{i: ids[i] = s} x[i, …] over the leading axes that `ids` indexes (`inner` is
 * the size of one slice). Ids outside [0, numSegments) are dropped, as in TensorFlow.
 * Writes `out` (numSegments·inner floats, zeroed here).
 */
export function unsortedSegmentSumImpl(x: Float32Array, ids: Int32Array, inner: number, numSegments: number, out: Float32Array): void {
  out.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}
