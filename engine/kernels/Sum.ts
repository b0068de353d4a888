import * as tf from '@tensorflow/tfjs';
import { leadingAxesSplit, sumLeadingAxesImpl } from './reduce_impl.ts';
import type { WasmKernelArgs, WasmOverride } from './wasm_override.ts';

/**
 * A float32 reduction over leading axes in one contiguous pass (the stock wasm kernel
 * transposes the reduced axes innermost first). Returns null for other reductions.
 */
export function reduceLeading({ inputs, backend, attrs }: WasmKernelArgs, mean: boolean): tf.TensorInfo | null {
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype !== 'float32') return null;
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const split = leadingAxesSplit(x.shape, axes);
  if (!split) return null;
  const [rows, cols] = split;
  const kept = x.shape.slice(axes.length);
  const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  sumLeadingAxesImpl(backend.typedArrayFromHeap(x) as Float32Array, rows, cols, mean ? 1 / rows : 1, backend.typedArrayFromHeap(out) as Float32Array);
  return out;
}

/** Fast Sum over leading axes for wasm (batch-norm statistics and their gradients). */
export const sumOverride: WasmOverride = { kernelName: tf.Sum, fast: (a) => reduceLeading(a, false) };
