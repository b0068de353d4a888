import type { SystemProbes } from './probes.ts';
import { providerLadder, type Provider } from './session.ts';

/** Numeric precisions a model repository may hold, one ONNX file each. */
export type Precision = 'fp32' | 'fp16' | 'int8';

/**
 * How the runtime runs a model on this machine:
 * - `gpu`: CUDA, the FP16/FP32 variant, full batch;
 * - `cpu`: no usable GPU but enough RAM, FP32 or INT8 (whichever the precision report says is faster);
 * - `light`: short of memory (a GPU with < 4 GB free, or < 6 GB free RAM): INT8 on CPU, smaller batch.
 */
export type InferenceMode = 'gpu' | 'cpu' | 'light';

/** The runtime's decision and the facts it rests on, in words for `fedkd doctor` and the logs. */
export interface InferencePlan {
  mode: InferenceMode;
  provider: Provider;
  maxBatch: number;
  /** Free memory of the GPU with the most of it, MiB; undefined without a GPU. */
  gpuFreeMB?: number;
  freeRamMB: number;
  reasons: string[];
}

/** Below this much free GPU memory the runtime goes to light mode (issue 8). */
export const LIGHT_GPU_FREE_MB = 4096;
/** Below this much free system RAM the runtime goes to light mode (issue 8). */
export const LIGHT_RAM_FREE_MB = 6144;
/** Largest batch the dynamic batcher forms by default. */
export const DEFAULT_MAX_BATCH = 32;
/** The smaller batch of light mode. */
export const LIGHT_MAX_BATCH = 8;

const MIB = 1024 * 1024;

/** Decides the inference mode from the probes: provider ladder, GPU free memory, free RAM. */
export function planInference(probes: SystemProbes, maxBatch = DEFAULT_MAX_BATCH): InferencePlan {
  const ladder = providerLadder(probes);
  const gpus = ladder.includes('cuda') ? probes.gpus() : [];
  const gpuFreeMB = gpus.length ? Math.max(...gpus.map((g) => g.memoryFreeMB)) : undefined;
  const freeRamBytes = probes.freeRamBytes();
  const freeRamMB = Math.floor(freeRamBytes / MIB);
  const reasons: string[] = [];
  const cudaInstalled = probes.listBackends().some((b) => b.name === 'cuda' && b.bundled);
  if (!cudaInstalled) reasons.push("onnxruntime-node's CUDA provider is not installed");
  else if (!ladder.includes('cuda')) reasons.push('the CUDA provider is installed but no GPU answered nvidia-smi');
  const lowRam = freeRamBytes < LIGHT_RAM_FREE_MB * MIB;
  const lowGpu = gpuFreeMB !== undefined && gpuFreeMB < LIGHT_GPU_FREE_MB;
  if (lowRam) reasons.push(`only ${freeRamMB} MiB of RAM free (< ${LIGHT_RAM_FREE_MB})`);
  if (lowGpu) reasons.push(`only ${gpuFreeMB} MiB free on the GPU (< ${LIGHT_GPU_FREE_MB})`);
  if (lowRam || lowGpu) {
    const batch = Math.min(maxBatch, LIGHT_MAX_BATCH);
    reasons.push(`light mode: INT8 on CPU, batch ≤ ${batch}`);
    return { mode: 'light', provider: 'cpu', maxBatch: batch, gpuFreeMB, freeRamMB, reasons };
  }
  if (gpuFreeMB !== undefined) {
    reasons.push(`CUDA with ${gpuFreeMB} MiB free on the GPU`);
    return { mode: 'gpu', provider: 'cuda', maxBatch, gpuFreeMB, freeRamMB, reasons };
  }
  reasons.push('CPU, INT8 when the precision report shows it is faster');
  return { mode: 'cpu', provider: 'cpu', maxBatch, gpuFreeMB, freeRamMB, reasons };
}

/**
 * Picks the variant to load for a provider: FP16, then FP32 on a GPU; on CPU INT8 in light
 * mode or when `int8Faster` (from the precision report), else FP32. Falls back to whatever exists.
 */
export function choosePrecision(available: readonly Precision[], mode: InferenceMode, int8Faster?: boolean): { precision: Precision; why: string } {
  if (available.length === 0) throw new Error('choosePrecision: no variants');
  let order: Precision[];
  let why: string;
  if (mode === 'gpu') {
    order = ['fp16', 'fp32', 'int8'];
    why = 'GPU: FP16, else FP32';
  } else if (mode === 'light') {
    order = ['int8', 'fp32', 'fp16'];
    why = 'light mode: INT8 on CPU';
  } else if (int8Faster) {
    order = ['int8', 'fp32', 'fp16'];
    why = 'CPU: the precision report shows INT8 faster than FP32';
  } else {
    order = ['fp32', 'int8', 'fp16'];
    why = int8Faster === false ? 'CPU: the precision report shows INT8 no faster than FP32' : 'CPU: FP32 (no precision report says INT8 is faster)';
  }
  const precision = order.find((p) => available.includes(p)) as Precision;
  return { precision, why: precision === order[0] ? why : `${why}; only ${available.join(', ')} present, so ${precision}` };
}
