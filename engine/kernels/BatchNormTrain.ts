import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd, bnScratchBytes, type BackendSimd } from '../simd/index.ts';
import { batchNormTrainBackwardImpl, batchNormTrainForwardImpl } from './BatchNormTrain_impl.ts';

/**
 * fedkd's training-mode batch norm over the last axis: inputs {x, scale, offset, movingMean,
 * movingVariance}, attrs {varianceEpsilon, decay}; outputs [y, mean, variance, movingMean′,
 * movingVariance′] (batchNormTrainForwardImpl). Replaces tf.moments + batchNorm + the moving
 * averages: ~12 kernels per BN layer.
 */
export const BATCH_NORM_TRAIN = 'FedkdBatchNormTrain';
/**
 * Its gradient: inputs {x, dy, mean, variance, scale, gMean, gVariance}, attr varianceEpsilon;
 * outputs [dx, dScale, dOffset] (batchNormTrainBackwardImpl).
 */
export const BATCH_NORM_TRAIN_GRAD = 'FedkdBatchNormTrainGrad';

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs?: tf.NamedAttrMap };
type Infos = Record<string, tf.TensorInfo>;
interface TrainAttrs {
  varianceEpsilon: number;
  decay: number;
}

/** What the cpu kernels need of MathBackendCPU. */
interface HostBackend {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

const channels = (x: tf.TensorInfo): number => x.shape[x.shape.length - 1];

/** Runs `f` with `bytes` of scratch on the wasm heap. */
function withScratch(s: BackendSimd, bytes: number, f: (ptr: number) => void): void {
  const ptr = s.malloc(bytes);
  try {
    f(ptr);
  } finally {
    s.free(ptr);
  }
}

function forwardWasm({ inputs, backend, attrs }: Args<BackendWasm>): tf.TensorInfo[] {
  const { x, scale, offset, movingMean, movingVariance } = inputs as Infos;
  const a = attrs as unknown as TrainAttrs;
  const c = channels(x);
  const outs = [x.shape, [c], [c], [c], [c]].map((sh) => backend.makeOutput(sh, 'float32'));
  const s = backendSimd(backend);
  if (s) {
    const p = (t: tf.TensorInfo): number => s.ptr(t.dataId);
    withScratch(s, bnScratchBytes(c), (scratch) =>
      s.k.bn_train_forward(p(x), tf.util.sizeFromShape(x.shape) / c, c, p(scale), p(offset), a.varianceEpsilon,
        p(outs[0]), p(outs[1]), p(outs[2]), p(movingMean), p(movingVariance), a.decay, p(outs[3]), p(outs[4]), scratch),
    );
    return outs;
  }
  const f = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
  const params = { scale: f(scale), offset: f(offset), epsilon: a.varianceEpsilon, movingMean: f(movingMean), movingVariance: f(movingVariance), decay: a.decay };
  batchNormTrainForwardImpl(f(x), params, { y: f(outs[0]), mean: f(outs[1]), variance: f(outs[2]), movingMean: f(outs[3]), movingVariance: f(outs[4]) });
  return outs;
}

function forwardCpu({ inputs, backend, attrs }: Args<HostBackend>): tf.TensorInfo[] {
  const { x, scale, offset, movingMean, movingVariance } = inputs as Infos;
  const a = attrs as unknown as TrainAttrs;
  const r = (t: tf.TensorInfo): Float32Array => backend.readSync(t.dataId) as Float32Array;
  const c = channels(x);
  const o = { y: new Float32Array(tf.util.sizeFromShape(x.shape)), mean: new Float32Array(c), variance: new Float32Array(c), movingMean: new Float32Array(c), movingVariance: new Float32Array(c) };
  batchNormTrainForwardImpl(r(x), { scale: r(scale), offset: r(offset), epsilon: a.varianceEpsilon, movingMean: r(movingMean), movingVariance: r(movingVariance), decay: a.decay }, o);
  return [o.y, o.mean, o.variance, o.movingMean, o.movingVariance].map((v, i) => backend.makeTensorInfo(i === 0 ? x.shape : [c], 'float32', v));
}

function backwardWasm({ inputs, backend, attrs }: Args<BackendWasm>): tf.TensorInfo[] {
  const { x, dy, mean, variance, scale, gMean, gVariance } = inputs as Infos;
  const eps = (attrs as unknown as TrainAttrs).varianceEpsilon;
  const c = channels(x);
  const outs = [x.shape, [c], [c]].map((sh) => backend.makeOutput(sh, 'float32'));
  const s = backendSimd(backend);
  if (s) {
    const p = (t: tf.TensorInfo): number => s.ptr(t.dataId);
    withScratch(s, bnScratchBytes(c), (scratch) =>
      s.k.bn_train_backward(p(x), p(dy), tf.util.sizeFromShape(x.shape) / c, c, p(mean), p(variance), p(scale), eps, p(gMean), p(gVariance),
        p(outs[0]), p(outs[1]), p(outs[2]), scratch),
    );
    return outs;
  }
  const f = (t: tf.TensorInfo): Float32Array => backend.typedArrayFromHeap(t) as Float32Array;
  batchNormTrainBackwardImpl(
    { x: f(x), dy: f(dy), mean: f(mean), variance: f(variance), scale: f(scale), epsilon: eps, gMean: f(gMean), gVariance: f(gVariance) },
    { dx: f(outs[0]), dScale: f(outs[1]), dOffset: f(outs[2]) },
  );
  return outs;
}

function backwardCpu({ inputs, backend, attrs }: Args<HostBackend>): tf.TensorInfo[] {
  const { x, dy, mean, variance, scale, gMean, gVariance } = inputs as Infos;
  const r = (t: tf.TensorInfo): Float32Array => backend.readSync(t.dataId) as Float32Array;
  const c = channels(x);
  const o = { dx: new Float32Array(tf.util.sizeFromShape(x.shape)), dScale: new Float32Array(c), dOffset: new Float32Array(c) };
  const eps = (attrs as unknown as TrainAttrs).varianceEpsilon;
  batchNormTrainBackwardImpl({ x: r(x), dy: r(dy), mean: r(mean), variance: r(variance), scale: r(scale), epsilon: eps, gMean: r(gMean), gVariance: r(gVariance) }, o);
  return [o.dx, o.dScale, o.dOffset].map((v, i) => backend.makeTensorInfo(i === 0 ? x.shape : [c], 'float32', v));
}

const kf = (f: unknown): tf.KernelFunc => f as tf.KernelFunc;

/** The training-mode batch-norm kernels (forward and gradient) for wasm (SIMD, else JS on the heap) and cpu. */
export const BATCH_NORM_TRAIN_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: 'wasm', kernelFunc: kf(forwardWasm) },
  { kernelName: BATCH_NORM_TRAIN, backendName: 'cpu', kernelFunc: kf(forwardCpu) },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'wasm', kernelFunc: kf(backwardWasm) },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'cpu', kernelFunc: kf(backwardCpu) },
];

/**
 * The gradient of BATCH_NORM_TRAIN: one BATCH_NORM_TRAIN_GRAD kernel. The moving averages
 * are not differentiated (tf.layers writes them to non-trainable variables).
 */
export const batchNormTrainGradConfig: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true, false, false],
  gradFunc: (dy, saved, attrs) => {
    const [x, scale, mean, variance] = saved;
    const [dY, gMean, gVariance] = dy as tf.Tensor[];
    const eps = (attrs as unknown as TrainAttrs).varianceEpsilon;
    const [dx, dScale, dOffset] = tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, { x, dy: dY, mean, variance, scale, gMean, gVariance }, { varianceEpsilon: eps }) as tf.Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset, movingMean: () => tf.zerosLike(mean), movingVariance: () => tf.zerosLike(variance) };
  },
};

/** Registers BATCH_NORM_TRAIN's gradient (its kernels are among FUSED_KERNELS); idempotent. */
export function registerBatchNormTrainGradient(): void {
  if (!tf.getGradient(BATCH_NORM_TRAIN)) tf.registerGradient(batchNormTrainGradConfig);
}
