import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backendSimd, type BackendSimd } from '../simd/index.ts';
import { adamBiasCorrections, adamKeep, adamUpdateImpl, type AdamHyper } from './AdamUpdate_impl.ts';

/** Name of fedkd's fused Adam kernel: inputs {x, g, m, v}, attrs AdamHyper, outputs [x′, m′, v′]. */
export const ADAM_UPDATE = 'FedkdAdamUpdate';

type Args<B> = { inputs: tf.NamedTensorInfoMap; backend: B; attrs?: tf.NamedAttrMap };

function parts(args: Args<unknown>): [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, AdamHyper] {
  const { x, g, m, v } = args.inputs as Record<'x' | 'g' | 'm' | 'v', tf.TensorInfo>;
  return [x, g, m, v, args.attrs as unknown as AdamHyper];
}

/** kernels.c's adam_update on heap pointers: reads x, g, m, v (n floats each), writes xo, mo, vo (which may be x, m, v). */
function simdAdam(s: BackendSimd, [x, g, m, v]: number[], n: number, h: AdamHyper, [xo, mo, vo]: number[]): void {
  const [c1, c2] = adamBiasCorrections(h);
  s.k.adam_update(x, g, m, v, n, h.lr, h.beta1, h.beta2, h.epsilon, c1, c2, adamKeep(h), xo, mo, vo);
}

function adamUpdateWasm(args: Args<BackendWasm>): tf.TensorInfo[] {
  const b = args.backend;
  const [x, g, m, v, h] = parts(args);
  const outs = [x, m, v].map((t) => b.makeOutput(t.shape, 'float32'));
  const s = backendSimd(b);
  if (s) {
    const p = (t: tf.TensorInfo): number => s.ptr(t.dataId);
    simdAdam(s, [x, g, m, v].map(p), tf.util.sizeFromShape(x.shape), h, outs.map(p));
    return outs;
  }
  const f = (t: tf.TensorInfo): Float32Array => b.typedArrayFromHeap(t) as Float32Array;
  adamUpdateImpl(f(x), f(g), f(m), f(v), h, f(outs[0]), f(outs[1]), f(outs[2]));
  return outs;
}

/** What the cpu kernel needs of MathBackendCPU. */
interface HostBackend {
  readSync(dataId: tf.DataId): unknown;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function adamUpdateCpu(args: Args<HostBackend>): tf.TensorInfo[] {
  const b = args.backend;
  const [x, g, m, v, h] = parts(args);
  const r = (t: tf.TensorInfo): Float32Array => b.readSync(t.dataId) as Float32Array;
  const outs = [x, m, v].map((t) => new Float32Array(t.shape.reduce((p, s) => p * s, 1)));
  adamUpdateImpl(r(x), r(g), r(m), r(v), h, outs[0], outs[1], outs[2]);
  return outs.map((o, i) => b.makeTensorInfo([x, m, v][i].shape, 'float32', o));
}

/** The fused Adam kernel for wasm (on the heap) and cpu. */
export const ADAM_UPDATE_KERNELS: readonly tf.KernelConfig[] = [
  { kernelName: ADAM_UPDATE, backendName: 'wasm', kernelFunc: adamUpdateWasm as unknown as tf.KernelFunc },
  { kernelName: ADAM_UPDATE, backendName: 'cpu', kernelFunc: adamUpdateCpu as unknown as tf.KernelFunc },
];

/**
 * One Adam step written into x, m and v's own heap buffers on wasm with the SIMD module: no
 * new tensors, no kernel dispatch, no assign. Only when nothing else shares those buffers
 * (reference count 1; a fresh tf.variable still shares its initial value's) and g is another
 * buffer; returns false otherwise, and the caller runs the kernel. The three buffers are then
 * declared rewritten (BackendSimd.rewritten): the wasm backend's XNNPACK conv2d / matMul
 * cache x's values packed under its tensor id, and would otherwise keep the old weights.
 */
export function adamUpdateInPlace(x: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, h: AdamHyper): boolean {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32' || g.dtype !== 'float32') return false;
  const b = tf.backend() as unknown as BackendWasm;
  const s = backendSimd(b);
  if (!s) return false;
  const own = [x, m, v];
  if (own.some((t) => t.dtype !== 'float32' || t.dataId === g.dataId || b.refCount(t.dataId) !== 1)) return false;
  const [px, pm, pv] = own.map((t) => s.ptr(t.dataId));
  simdAdam(s, [px, s.ptr(g.dataId), pm, pv], x.size, h, [px, pm, pv]);
  for (const t of own) s.rewritten(t.dataId);
  return true;
}
