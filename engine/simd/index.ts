import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { warn } from '../../core/log.ts';

/**
 * The raw exports of engine/simd/kernels.wasm (built from engine/simd/*.c by scripts/build-wasm.sh).
 * Every pointer is a byte offset on the memory the module was instantiated with; see
 * the C sources for each kernel's formula and scratch needs.
 */
export interface SimdExports {
  bn_train_forward(
    x: number, rows: number, c: number, scale: number, offset: number, eps: number, y: number, mean: number, variance: number,
    movingMean: number, movingVar: number, decay: number, movingMeanOut: number, movingVarOut: number, scratch: number,
  ): void;
  bn_train_backward(
    x: number, dy: number, rows: number, c: number, mean: number, variance: number, scale: number, eps: number,
    gMean: number, gVar: number, dx: number, dScale: number, dOffset: number, scratch: number,
  ): void;
  dw_filter_grad_3x3(x: number, dy: number, ...rest: [...Depthwise3x3Geometry, dw: number]): void;
  dw_input_grad_3x3(dy: number, filter: number, ...rest: [...Depthwise3x3Geometry, dx: number]): void;
  im2col_t(
    x: number, n: number, h: number, w: number, c: number, oh: number, ow: number, kh: number, kw: number, sh: number, sw: number,
    top: number, left: number, out: number,
  ): void;
  matmul_tn(a: number, sm: number, sk: number, b: number, m: number, k: number, n: number, out: number): void;
  relu_grad(dy: number, x: number, n: number, dx: number): void;
  adam_update(
    x: number, g: number, m: number, v: number, n: number, lr: number, beta1: number, beta2: number, eps: number,
    c1: number, c2: number, keep: number, xo: number, mo: number, vo: number,
  ): void;
}

/** Bytes of scratch the batch-norm kernels need for c channels (4·c float64). */
export function bnScratchBytes(c: number): number {
  return 32 * c;
}

/** The geometry arguments depthwise.c's 3×3 kernels take between their input and output pointers. */
export type Depthwise3x3Geometry = [
  n: number, h: number, w: number, c: number, oh: number, ow: number, sh: number, sw: number, top: number, left: number,
];

/**
 * The geometry of a depthwise convolution for dw_filter_grad_3x3 / dw_input_grad_3x3, or null
 * when they do not cover it (they need 3×3 filters, channel multiplier 1, channels a multiple of 4).
 */
export function depthwise3x3Geometry(info: tf.backend_util.Conv2DInfo): Depthwise3x3Geometry | null {
  const fits = info.filterHeight === 3 && info.filterWidth === 3 && info.outChannels === info.inChannels && info.inChannels % 4 === 0;
  if (!fits) return null;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, padInfo } = info;
  return [batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, padInfo.top, padInfo.left];
}

let compiled: WebAssembly.Module | undefined;

/** Compiles the committed kernels.wasm once (synchronously: it is ~10 kB). */
function simdModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL('./kernels.wasm', import.meta.url)));
  return compiled;
}

/**
 * Instantiates fedkd's SIMD kernels on `memory` (the module imports it as env.memory and
 * owns none of it). Throws when WebAssembly SIMD is unavailable.
 */
export function instantiateSimd(memory: WebAssembly.Memory): SimdExports {
  const instance = new WebAssembly.Instance(simdModule(), { env: { memory } });
  return instance.exports as unknown as SimdExports;
}

/** What fedkd needs of tfjs-backend-wasm's Emscripten module beyond its typings. */
interface EmscriptenHeap {
  asm?: { memory?: WebAssembly.Memory };
  wasmMemory?: WebAssembly.Memory;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

/** SIMD kernels bound to one wasm backend's heap, with its allocator for scratch space. */
export interface BackendSimd {
  k: SimdExports;
  /** Byte offset of a tensor's data on the heap. */
  ptr(dataId: object): number;
  malloc(bytes: number): number;
  free(ptr: number): void;
  /**
   * Declares that a tensor's buffer was written in place (its id and memory unchanged). The
   * backend's C++ side treats a tensor id's values as immutable: XNNPACK conv2d / matMul
   * operators pack their filter and bias when first created and are cached by those tensors'
   * ids, freed only when an id is disposed, so without this call they keep computing with the
   * old values. It disposes and re-registers the id on the same memory, which drops them.
   */
  rewritten(dataId: object): void;
}

const bound = new WeakMap<BackendWasm, BackendSimd | null>();

let enabled = !/^(0|off|false|no)$/i.test(process.env.FEDKD_SIMD ?? '');

/** True unless switched off, by FEDKD_SIMD=0/off/false at start or setSimdEnabled(false) (then the JS kernels run). */
export function simdEnabled(): boolean {
  return enabled;
}

/** Switches the SIMD kernels on or off for this thread (for comparisons and tests). */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}

/** Disposes a tensor's id on the backend's C++ side (running its disposal callbacks) and registers it again on the same memory. */
function reRegister(backend: BackendWasm, dataId: object): void {
  const d = backend.dataIdMap.get(dataId);
  backend.wasm.tfjs.disposeData(d.id);
  backend.wasm.tfjs.registerTensor(d.id, d.shape.reduce((a, b) => a * b, 1), d.memoryOffset);
}

function bind(backend: BackendWasm): BackendSimd | null {
  const heap = backend.wasm as unknown as EmscriptenHeap;
  const memory = heap.asm?.memory ?? heap.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) {
    warn('engine: tfjs-backend-wasm does not expose its memory; SIMD training kernels off, JS kernels used');
    return null;
  }
  try {
    const k = instantiateSimd(memory);
    return {
      k,
      ptr: (id) => backend.getMemoryOffset(id),
      malloc: (n) => heap._malloc(n),
      free: (p) => heap._free(p),
      rewritten: (id) => reRegister(backend, id),
    };
  } catch (e) {
    warn(`engine: SIMD training kernels did not load (${(e as Error).message}); JS kernels used`);
    return null;
  }
}

/**
 * fedkd's SIMD kernels on this wasm backend's heap, or null when they are switched off
 * (FEDKD_SIMD=0, setSimdEnabled) or cannot load (then callers run their JS implementation). Cached per backend.
 */
export function backendSimd(backend: BackendWasm): BackendSimd | null {
  if (!simdEnabled()) return null;
  if (!bound.has(backend)) bound.set(backend, bind(backend));
  return bound.get(backend) ?? null;
}
