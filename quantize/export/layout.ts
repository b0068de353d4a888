/**
 * Layout helpers for NHWC (tfjs) → NCHW (ONNX) export: weight transposes, TensorFlow
 * "same" padding as explicit pads, and axis mapping.
 */

/** Transposes a dense row-major array of shape `shape` by `perm` (numpy.transpose semantics). */
export function transpose(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const stride = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * stride[d];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * ONNX pads [top, left, bottom, right] for a TensorFlow-padded window op on an `in` image:
 * "valid" pads nothing; "same" pads (out−1)·s + (k−1)·d + 1 − in in total, the extra
 * pixel at the end (bottom/right), as TensorFlow does.
 */
export function windowPads(padding: string, inHW: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[] = [1, 1]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw new Error(`padding '${padding}' cannot be exported`);
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const out = Math.ceil(inHW[i] / strides[i]);
    const total = Math.max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inHW[i], 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

/**
 * Pads and output padding of an ONNX ConvTranspose that gives the tfjs Conv2DTranspose
 * output size: out = s·(in−1) + output_padding + k − padBegin − padEnd.
 */
export function transposePads(inHW: readonly number[], outHW: readonly number[], kernel: readonly number[], strides: readonly number[]): { pads: number[]; outputPadding: number[] } {
  const begin: number[] = [];
  const end: number[] = [];
  const outputPadding: number[] = [];
  for (let i = 0; i < 2; i++) {
    const total = strides[i] * (inHW[i] - 1) + kernel[i] - outHW[i];
    begin.push(total > 0 ? Math.floor(total / 2) : 0);
    end.push(total > 0 ? total - Math.floor(total / 2) : 0);
    outputPadding.push(total < 0 ? -total : 0);
  }
  return { pads: [...begin, ...end], outputPadding };
}

/** The NCHW axis of an NHWC axis (negative counts from the end) for a tensor of `rank` 2 or 4. */
export function nchwAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (rank !== 4) return a;
  return [0, 2, 3, 1][a];
}
