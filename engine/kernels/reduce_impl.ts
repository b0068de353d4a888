/**
 * Column sums of a row-major [rows, cols] matrix, accumulated in float64, times `scale`:
 * a reduction over a tensor's leading axes (e.g. over N, H, W of an NHWC activation, as
 * batch norm and its gradient do) in one contiguous pass, with no transpose.
 */
export function sumLeadingAxesImpl(x: Float32Array, rows: number, cols: number, scale: number, out: Float32Array): void {
  const acc = new Float64Array(cols);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    for (let c = 0; c < cols; c++) acc[c] += x[o + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c] * scale;
}

/** Splits a shape at `k` leading axes into [rows, cols]; null unless `axes` is exactly 0..k−1 with k < rank. */
export function leadingAxesSplit(shape: readonly number[], axes: readonly number[]): [number, number] | null {
  const sorted = [...axes].sort((a, b) => a - b);
  const k = sorted.length;
  if (k === 0 || k >= shape.length || sorted.some((a, i) => a !== i)) return null;
  const rows = shape.slice(0, k).reduce((p, v) => p * v, 1);
  const cols = shape.slice(k).reduce((p, v) => p * v, 1);
  return [rows, cols];
}
