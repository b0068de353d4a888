import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { batchNormGradImpl, type BatchNormGrads } from './BatchNormGrad_impl.ts';
import { overrideGradient, type GradientOverride } from './gradient-override.ts';

/** fedkd's fused batch-norm gradient kernel: inputs {x, dy, mean, variance, scale?}, attr varianceEpsilon; outputs [dx, dMean, dVariance, dScale, dOffset]. */
export const BATCH_NORM_GRAD = 'FedkdBatchNormGrad';

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs?: tf.NamedAttrMap };
type Five<T> = [T, T, T, T, T];

function shapes(inputs: tf.NamedTensorInfoMap): Five<number[]> {
  const { x, mean } = inputs as Record<string, tf.TensorInfo>;
  return [x.shape, mean.shape, mean.shape, mean.shape, mean.shape];
}

function grads(o: Five<Float32Array>): BatchNormGrads {
  return { dx: o[0], dMean: o[1], dVariance: o[2], dScale: o[3], dOffset: o[4] };
}

function batchNormGradWasm({ inputs, backend, attrs }: Args<BackendWasm>): tf.TensorInfo[] {
  const outs = shapes(inputs).map((s) => backend.makeOutput(s, 'float32')) as Five<tf.TensorInfo>;
  const f = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
  const { x, dy, mean, variance, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  batchNormGradImpl(f(x!), f(dy!), f(mean!), f(variance!), scale ? f(scale) : null, eps, grads(outs.map(f) as Five<Float32Array>));
  return outs;
}

/** What the cpu kernel needs of MathBackendCPU. */
interface HostBackend {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function batchNormGradCpu({ inputs, backend, attrs }: Args<HostBackend>): tf.TensorInfo[] {
  const s = shapes(inputs);
  const outs = s.map((sh) => new Float32Array(sh.reduce((p, v) => p * v, 1))) as Five<Float32Array>;
  const r = (t: tf.TensorInfo): Float32Array => backend.readSync(t.dataId) as Float32Array;
  const { x, dy, mean, variance, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
  const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
  batchNormGradImpl(r(x!), r(dy!), r(mean!), r(variance!), scale ? r(scale) : null, eps, grads(outs));
  return outs.map((o, i) => backend.makeTensorInfo(s[i], 'float32', o));
}

/** The fused batch-norm gradient kernel for wasm (on the heap) and cpu. */
export const BATCH_NORM_GRAD_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: batchNormGradWasm as unknown as tf.KernelFunc },
  { kernelName: BATCH_NORM_GRAD, backendName: 'cpu', kernelFunc: batchNormGradCpu as unknown as tf.KernelFunc },
];

let override: GradientOverride | undefined;

/**
 * Replaces the FusedBatchNorm gradient with one that, where the current backend has
 * BATCH_NORM_GRAD and statistics are per last-axis channel (every BN layer in training),
 * computes all five gradients in one kernel; elsewhere the stock gradient runs. tfjs's own
 * builds dx by tiling 1/√(var+ε) to the activation's full shape and launches ~15 kernels.
 * Idempotent.
 */
export function registerBatchNormGradient(): void {
  override ??= overrideGradient(tf.FusedBatchNorm, (stock) => (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    const d = dy as tf.Tensor;
    const fits = mean.rank === 1 && x.shape[x.rank - 1] === mean.shape[0] && x.dtype === 'float32';
    if (!fits || !tf.getKernel(BATCH_NORM_GRAD, tf.getBackend())) return stock(dy, saved, attrs);
    const inputs: tf.NamedTensorMap = scale ? { x, dy: d, mean, variance, scale } : { x, dy: d, mean, variance };
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const [dx, dMean, dVariance, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_GRAD, inputs, { varianceEpsilon: eps }) as tf.Tensor[];
    return { x: () => dx, mean: () => dMean, variance: () => dVariance, scale: () => dScale, offset: () => dOffset };
  });
}

/** Runs `f` with tfjs's stock FusedBatchNorm gradient in place (for comparisons in tests). */
export function withStockBatchNormGradient<T>(f: () => T): T {
  return override ? override.withStock(f) : f();
}
