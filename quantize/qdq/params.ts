import type { TensorRange } from '../calibration/histogram.ts';

/** uint8 activations span [0, 255]; int8 weights are symmetric in [−127, 127]. */
export const U8_MAX = 255;
export const S8_MAX = 127;
const I32_MAX = 2 ** 31 - 1;

/** An activation's uint8 quantization: x ≈ scale · (q − zeroPoint). */
export interface ActivationQParams {
  scale: number;
  zeroPoint: number;
}

/**
 * Asymmetric uint8 parameters covering a calibrated range widened to include 0 (so zero is
 * exact, as padding and ReLU need): scale = (max − min)/255, zeroPoint = round(−min/scale).
 * The scale is rounded to float32, as it is stored.
 */
export function activationQParams(r: TensorRange): ActivationQParams {
  const min = Math.min(r.min, 0);
  const max = Math.max(r.max, 0);
  const raw = (max - min) / U8_MAX;
  const scale = raw > 0 && Number.isFinite(raw) ? Math.fround(raw) : 1;
  const zeroPoint = Math.min(U8_MAX, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

/**
 * Per-channel symmetric int8 weights along `axis`: scale_c = max|W_c|/127 (1 for an all-zero
 * channel), q = round(W/scale_c) clamped to ±127, zero point 0.
 */
export function quantizeWeightsPerChannel(w: Float32Array, dims: readonly number[], axis: number): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const absMax = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    absMax[c] = Math.max(absMax[c], Math.abs(w[i]));
  }
  const scales = Float32Array.from(absMax, (m) => (m > 0 ? m / S8_MAX : 1));
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    q[i] = Math.max(-S8_MAX, Math.min(S8_MAX, Math.round(w[i] / scales[c])));
  }
  return { q, scales };
}

/** int32 bias with scale_c = inputScale · weightScale_c and zero point 0 (what QLinearConv/QGemm add to the int32 accumulator). */
export function quantizeBias(b: Float32Array, inputScale: number, weightScales: Float32Array): { q: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(b, (_, c) => inputScale * weightScales[weightScales.length === 1 ? 0 : c]);
  const q = Int32Array.from(b, (v, c) => Math.max(-I32_MAX, Math.min(I32_MAX, Math.round(v / scales[c]))));
  return { q, scales };
}
