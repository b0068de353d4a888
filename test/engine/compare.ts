import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../engine/backend.ts';
import { setSimdEnabled } from '../../engine/simd/index.ts';

/** The backends every engine check runs on. */
export const BACKENDS = ['cpu', 'wasm'] as const;

/** The tolerance the issue sets for wasm against cpu. */
export const REL_TOL = 1e-4;

/**
 * Relative error of `a` against the reference `b`: max |a − b| over max |b|
 * (the reference's scale, so entries near zero are judged on that scale).
 */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return Number.isFinite(diff) ? diff / Math.max(scale, 1e-12) : Infinity;
}

/** Seeded normal values, the same on every backend (tfjs's seeded generator runs in JS). */
export function seeded(shape: number[], seed: number): Float32Array {
  return tf.tidy(() => tf.randomNormal(shape, 0, 1, 'float32', seed).dataSync() as Float32Array);
}

/** Switches to a backend (registering fedkd's wasm kernels) and runs `f` there. */
export async function onBackend<T>(name: (typeof BACKENDS)[number], f: () => Promise<T> | T): Promise<T> {
  await initBackend(name);
  if (tf.getBackend() !== name) await tf.setBackend(name);
  return f();
}

/** Runs `f` with fedkd's SIMD kernels switched off (the JS kernels on the wasm heap), then on again. */
export async function withoutSimd<T>(f: () => Promise<T> | T): Promise<T> {
  setSimdEnabled(false);
  try {
    return await f();
  } finally {
    setSimdEnabled(true);
  }
}
