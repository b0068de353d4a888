import type { FloatTensor } from '../../runtime/session.ts';
import type { TensorRange } from '../calibration/histogram.ts';
import { calibrate, type CalibrateOptions } from '../calibration/collect.ts';
import { decodeModel, encodeModel } from './onnx-tensors.ts';
import { insertQdq, type QdqOptions } from './rewrite.ts';
import { activationsToQuantize } from './select.ts';

export { insertQdq, type QdqOptions } from './rewrite.ts';
export { activationsToQuantize } from './select.ts';

/** Options of quantizeStatic. */
export type StaticQuantizeOptions = CalibrateOptions & QdqOptions;

/** A quantized model and the activation ranges it was built from. */
export interface StaticQuantizeResult {
  bytes: Uint8Array;
  ranges: Map<string, TensorRange>;
}

/**
 * Static INT8 quantization of an FP32 ONNX model in QDQ format: calibrates the activations
 * that will be quantized on `batches` (NCHW float input) with MinMax, Percentile or Entropy,
 * then writes per-channel int8 weights, int32 biases and uint8 activations (insertQdq).
 */
export async function quantizeStatic(fp32: Uint8Array, batches: Iterable<FloatTensor>, o: StaticQuantizeOptions): Promise<StaticQuantizeResult> {
  const tensors = activationsToQuantize(decodeModel(fp32).graph!);
  const ranges = await calibrate(fp32, tensors, batches, o);
  return { bytes: quantizeWithRanges(fp32, ranges, o), ranges };
}

/** The QDQ model for ranges calibrated elsewhere (e.g. merged from the sites' histograms). */
export function quantizeWithRanges(fp32: Uint8Array, ranges: ReadonlyMap<string, TensorRange>, o: QdqOptions = {}): Uint8Array {
  return encodeModel(insertQdq(decodeModel(fp32), ranges, o));
}
