import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FusedAdamOptimizer } from '../../engine/adam.ts';
import { BACKENDS, onBackend, relError, seeded, withoutSimd } from './compare.ts';

/** Runs `steps` updates of one optimiser on two variables with fixed, step-dependent gradients. */
function run(opt: tf.Optimizer, steps: number): Float32Array[] {
  const a = tf.variable(tf.tensor(seeded([3, 4], 21), [3, 4]), true, `a${Math.random()}`);
  const b = tf.variable(tf.tensor(seeded([5], 22), [5]), true, `b${Math.random()}`);
  for (let s = 0; s < steps; s++) {
    const ga = tf.tensor(seeded([3, 4], 30 + s), [3, 4]);
    const gb = tf.tensor(seeded([5], 40 + s), [5]);
    opt.applyGradients({ [a.name]: ga, [b.name]: gb });
    tf.dispose([ga, gb]);
  }
  const out = [a.dataSync() as Float32Array, b.dataSync() as Float32Array];
  tf.dispose([a, b]);
  opt.dispose();
  return out;
}

describe('FusedAdamOptimizer', () => {
  it.each(BACKENDS)('matches tf.train.adam over 4 steps on %s', async (backend) => {
    await onBackend(backend, () => {
      const ours = run(new FusedAdamOptimizer(0.01, 0.9, 0.999, 1e-7), 4);
      const ref = run(tf.train.adam(0.01, 0.9, 0.999, 1e-7), 4);
      ours.forEach((w, i) => expect(relError(w, ref[i])).toBeLessThan(1e-5));
      // and it moved: 4 steps of lr 0.01 shift each weight by up to 0.04
      const start = seeded([3, 4], 21);
      expect(relError(ours[0], start)).toBeGreaterThan(1e-3);
    });
  });

  it('takes the hand-computed first step x − lr·g/(|g|+ε) from zero moments', async () => {
    await onBackend('wasm', () => {
      const x = tf.variable(tf.tensor1d([1, -2, 0.5]), true, 'hand');
      const opt = new FusedAdamOptimizer(0.1, 0.9, 0.999, 1e-7);
      const g = tf.tensor1d([0.2, -4, 1e-3]);
      opt.applyGradients({ hand: g });
      // m̂ = g and v̂ = g² after one step, so the update is lr·g/(|g|+ε)
      const want = [1 - (0.1 * 0.2) / (0.2 + 1e-7), -2 + (0.1 * 4) / (4 + 1e-7), 0.5 - (0.1 * 1e-3) / (1e-3 + 1e-7)];
      expect(relError(x.dataSync(), want)).toBeLessThan(1e-6);
      tf.dispose([x, g]);
      opt.dispose();
    });
  });

  it('on wasm updates the variable in place after the first step, with the same values as the kernel path', async () => {
    await onBackend('wasm', async () => {
      const inPlace = run(new FusedAdamOptimizer(0.01), 5);
      const viaKernel = await withoutSimd(() => run(new FusedAdamOptimizer(0.01), 5));
      inPlace.forEach((w, i) => expect(relError(w, viaKernel[i])).toBeLessThan(1e-6));
      const x = tf.variable(tf.tensor1d([1, 2, 3]), true, `inplace${Math.random()}`);
      const opt = new FusedAdamOptimizer(0.1);
      const g = tf.tensor1d([1, 1, 1]);
      opt.applyGradients({ [x.name]: g });
      const id = x.dataId;
      opt.applyGradients({ [x.name]: g });
      expect(x.dataId).toBe(id);
      // A tensor sharing the variable's buffer (a zero-copy clone) keeps its value: no in-place write then.
      const snapshot = tf.clone(x);
      const before = Array.from(snapshot.dataSync());
      opt.applyGradients({ [x.name]: g });
      expect(Array.from(snapshot.dataSync())).toEqual(before);
      expect(x.dataSync()[0]).toBeLessThan(before[0]);
      tf.dispose([x, g, snapshot]);
      opt.dispose();
    });
  });
});
