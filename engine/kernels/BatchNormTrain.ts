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

/** Shapes of a kernel's n outputs: x's, then n − 1 per-channel vectors. */
function outShapes(inputs: Infos, n: number): number[][] {
  const c = channels(inputs.x);
  return [inputs.x.shape, ...Array.from({ length: n - 1 }, () => [c])];
}

type Read = (t: tf.TensorInfo) => Float32Array;
/** A kernel's JS implementation: inputs read by `f`, outputs written into `out`. */
type JsPart = (inputs: Infos, a: TrainAttrs, f: Read, out: Float32Array[]) => void;
/** A kernel's SIMD implementation on the wasm heap, with scratch for bnScratchBytes. */
type SimdPart = (s: BackendSimd, p: (t: tf.TensorInfo) => number, inputs: Infos, a: TrainAttrs, outs: tf.TensorInfo[], scratch: number) => void;

/** Runs `f` with `bytes` of scratch on the wasm heap. */
function withScratch(s: BackendSimd, bytes: number, f: (ptr: number) => void): void {
  const ptr = s.malloc(bytes);
  try {
    f(ptr);
  } finally {
    s.free(ptr);
  }
}

/** A wasm kernel with n outputs: `simd` when the SIMD module is loaded, else `js` on the heap. */
function onWasm(n: number, simd: SimdPart, js: JsPart): (args: Args<BackendWasm>) => tf.TensorInfo[] {
  return ({ inputs, backend, attrs }) => {
    const infos = inputs as Infos;
    const a = attrs as unknown as TrainAttrs;
    const outs = outShapes(infos, n).map((sh) => backend.makeOutput(sh, 'float32'));
    const s = backendSimd(backend);
    if (s) {
      withScratch(s, bnScratchBytes(channels(infos.x)), (scratch) => simd(s, (t) => s.ptr(t.dataId), infos, a, outs, scratch));
      return outs;
    }
    const f: Read = (t) => backend.typedArrayFromHeap(t) as Float32Array;
    js(infos, a, f, outs.map(f));
    return outs;
  };
}

/** A cpu kernel with n outputs running `js`. */
function onCpu(n: number, js: JsPart): (args: Args<HostBackend>) => tf.TensorInfo[] {
  return ({ inputs, backend, attrs }) => {
    const shapes = outShapes(inputs as Infos, n);
    const out = shapes.map((sh) => new Float32Array(tf.util.sizeFromShape(sh)));
    js(inputs as Infos, attrs as unknown as TrainAttrs, (t) => backend.readSync(t.dataId) as Float32Array, out);
    return out.map((v, i) => backend.makeTensorInfo(shapes[i], 'float32', v));
  };
}

const rows = (x: tf.TensorInfo): number => tf.util.sizeFromShape(x.shape) / channels(x);

const forwardSimd: SimdPart = (s, p, { x, scale, offset, movingMean, movingVariance }, a, outs, scratch) =>
  s.k.bn_train_forward(p(x), rows(x), channels(x), p(scale), p(offset), a.varianceEpsilon,
    p(outs[0]), p(outs[1]), p(outs[2]), p(movingMean), p(movingVariance), a.decay, p(outs[3]), p(outs[4]), scratch);

const forwardJs: JsPart = ({ x, scale, offset, movingMean, movingVariance }, a, f, [y, mean, variance, mm, mv]) =>
  batchNormTrainForwardImpl(
    f(x),
    { scale: f(scale), offset: f(offset), epsilon: a.varianceEpsilon, movingMean: f(movingMean), movingVariance: f(movingVariance), decay: a.decay },
    { y, mean, variance, movingMean: mm, movingVariance: mv },
  );

const backwardSimd: SimdPart = (s, p, { x, dy, mean, variance, scale, gMean, gVariance }, a, outs, scratch) =>
  s.k.bn_train_backward(p(x), p(dy), rows(x), channels(x), p(mean), p(variance), p(scale), a.varianceEpsilon, p(gMean), p(gVariance),
    p(outs[0]), p(outs[1]), p(outs[2]), scratch);

const backwardJs: JsPart = ({ x, dy, mean, variance, scale, gMean, gVariance }, a, f, [dx, dScale, dOffset]) =>
  batchNormTrainBackwardImpl(
    { x: f(x), dy: f(dy), mean: f(mean), variance: f(variance), scale: f(scale), epsilon: a.varianceEpsilon, gMean: f(gMean), gVariance: f(gVariance) },
    { dx, dScale, dOffset },
  );

const kf = (f: unknown): tf.KernelFunc => f as tf.KernelFunc;

/** The training-mode batch-norm kernels (forward and gradient) for wasm (SIMD, else JS on the heap) and cpu. */
export const BATCH_NORM_TRAIN_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: 'wasm', kernelFunc: kf(onWasm(5, forwardSimd, forwardJs)) },
  { kernelName: BATCH_NORM_TRAIN, backendName: 'cpu', kernelFunc: kf(onCpu(5, forwardJs)) },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'wasm', kernelFunc: kf(onWasm(3, backwardSimd, backwardJs)) },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: 'cpu', kernelFunc: kf(onCpu(3, backwardJs)) },
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
