import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withStockBatchNormGradient } from '../../engine/kernels/BatchNormGrad.ts';
import { BACKENDS, REL_TOL, onBackend, relError, seeded } from './compare.ts';

/**
 * Gradients of Σ r ⊙ BN(x) with batch statistics (as a BN layer computes them in training)
 * with respect to x, offset and (when given) scale.
 */
function bnGrads(shape: number[], withScale: boolean): Float32Array[] {
  return tf.tidy(() => {
    const c = shape[shape.length - 1];
    const x = tf.tensor(seeded(shape, 51), shape).mul(2).add(0.5);
    const scale = tf.tensor1d(seeded([c], 52)).add(1);
    const offset = tf.tensor1d(seeded([c], 53));
    const r = tf.tensor(seeded(shape, 54), shape);
    const axes = shape.slice(0, -1).map((_, i) => i);
    const loss = (xi: tf.Tensor, oi: tf.Tensor, si?: tf.Tensor): tf.Scalar => {
      const { mean, variance } = tf.moments(xi, axes);
      return tf.sum(tf.mul(tf.batchNorm(xi, mean, variance, oi, si, 1e-3), r));
    };
    const grads = withScale
      ? tf.grads((xi: tf.Tensor, oi: tf.Tensor, si: tf.Tensor) => loss(xi, oi, si))([x, offset, scale])
      : tf.grads((xi: tf.Tensor, oi: tf.Tensor) => loss(xi, oi))([x, offset]);
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

describe("fedkd's fused batch-norm gradient against tfjs's stock gradient", () => {
  // Without a scale, tfjs 4.22 fails in the forward pass while recording the tape (it saves
  // the missing scale), so only scaled BN is trainable at all; tf.layers always passes gamma.
  const cases = [
    { shape: [4, 5, 5, 3], withScale: true },
    { shape: [2, 8, 8, 16], withScale: true },
    { shape: [6, 7], withScale: true },
  ];
  for (const backend of BACKENDS) {
    it.each(cases)(`${backend}: $shape scale=$withScale`, async ({ shape, withScale }) => {
      await onBackend(backend, () => {
        const ours = bnGrads(shape, withScale);
        const stock = withStockBatchNormGradient(() => bnGrads(shape, withScale));
        expect(ours.length).toBe(withScale ? 3 : 2);
        ours.forEach((g, i) => expect(relError(g, stock[i]), `input ${i}`).toBeLessThan(REL_TOL));
        expect(ours[0].some((v) => Math.abs(v) > 1e-3)).toBe(true);
      });
    });
  }
});

describe("fedkd's mean gradient (one broadcast instead of ones·dy/n)", () => {
  for (const backend of BACKENDS) {
    it.each([
      { shape: [2, 3, 4, 5], axes: [0, 1, 2] },
      { shape: [2, 3, 4, 5], axes: [1, 3] },
      { shape: [6, 7], axes: [1] },
    ])(`${backend}: $shape over $axes equals r/n broadcast back`, async ({ shape, axes }) => {
      await onBackend(backend, () => {
        const x = tf.tensor(seeded(shape, 81), shape);
        const outShape = shape.filter((_, i) => !axes.includes(i));
        const r = seeded(outShape, 82);
        const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(tf.mean(xi, axes), tf.tensor(r, outShape))))(x).dataSync();
        // hand reference: dx[i] = r[the output entry i reduces into] / (number of entries reduced)
        const n = axes.reduce((p, a) => p * shape[a], 1);
        const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, s) => p * s, 1));
        const want = Array.from({ length: g.length }, (_, flat) => {
          const idx = shape.map((_, d) => Math.floor(flat / strides[d]) % shape[d]);
          const kept = idx.filter((_, d) => !axes.includes(d));
          const o = kept.reduce((acc, v, k) => acc * outShape[k] + v, 0);
          return r[o] / n;
        });
        expect(relError(g, want)).toBeLessThan(1e-6);
        tf.dispose(x);
      });
    });
  }
});
