/** A typed array of any numeric tfjs dtype. */
export type NumericArray = Float32Array | Int32Array | Uint8Array;

/**
 * Tiles `x` (row-major, shape `inShape`) by `reps` into `out` (shape inShape[i]·reps[i]).
 * Works block by block from the innermost axis: each axis writes its input blocks once, then
 * doubles the written span with copyWithin, so the cost is a few memcpy passes over `out`
 * rather than an index computation per element.
 */
export function tileImpl(x: NumericArray, inShape: readonly number[], reps: readonly number[], out: NumericArray): void {
  const rank = inShape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  // outBlock[d]: size of one output block below axis d; inBlock[d]: same in the input.
  const outBlock = new Array<number>(rank + 1).fill(1);
  const inBlock = new Array<number>(rank + 1).fill(1);
  for (let d = rank - 1; d >= 0; d--) {
    inBlock[d] = inBlock[d + 1] * inShape[d];
    outBlock[d] = outBlock[d + 1] * inShape[d] * reps[d];
  }
  const fill = (d: number, src: number, dst: number): void => {
    if (d === rank - 1) {
      out.set(x.subarray(src, src + inShape[d]), dst);
    } else {
      for (let i = 0; i < inShape[d]; i++) fill(d + 1, src + i * inBlock[d + 1], dst + i * outBlock[d + 1]);
    }
    const span = inShape[d] * outBlock[d + 1];
    const total = span * reps[d];
    for (let done = span; done < total; done *= 2) out.copyWithin(dst + done, dst, dst + Math.min(done, total - done));
  };
  fill(0, 0, 0);
}
