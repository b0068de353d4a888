import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withStockBatchNormLayer } from '../../engine/batchnorm-layer.ts';
import { BACKENDS, REL_TOL, onBackend, relError, seeded, withoutSimd } from './compare.ts';

// tf.layers' BatchNormalization in training mode, through fedkd's fused kernel
// (engine/batchnorm-layer.ts), against tf.layers' own code (tf.moments, batchNorm, moving
// averages), on cpu and on wasm (SIMD kernels, and their JS fallback).

interface Result {
  y: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  grads: Float32Array[];
}

/** One training call of a fresh BN layer (momentum 0.9) and the gradients of Σ r ⊙ y w.r.t. x, γ, β. */
function trainOnce(shape: number[], mean: number): Result {
  return tf.tidy(() => {
    const c = shape[shape.length - 1];
    const layer = tf.layers.batchNormalization({
      momentum: 0.9,
      epsilon: 1e-3,
      gammaInitializer: tf.initializers.constant({ value: 1.5 }),
      betaInitializer: tf.initializers.constant({ value: 0.25 }),
    });
    layer.build(shape);
    const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const x = tf.tensor(seeded(shape, 61), shape).mul(3).add(mean);
    const r = tf.tensor(seeded(shape, 62), shape);
    const f = (xi: tf.Tensor): tf.Scalar => tf.sum(tf.mul(layer.apply(xi, { training: true }) as tf.Tensor, r));
    const y = (layer.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array;
    const [movingMean, movingVariance] = layer.nonTrainableWeights.map((w) => w.read().dataSync() as Float32Array);
    const { grads } = tf.variableGrads(() => f(x), [gamma, beta]);
    const dx = tf.grad(f)(x);
    expect(gamma.shape).toEqual([c]);
    return { y, movingMean, movingVariance, grads: [dx, grads[gamma.name], grads[beta.name]].map((g) => g.dataSync() as Float32Array) };
  });
}

function expectSame(ours: Result, stock: Result): void {
  expect(relError(ours.y, stock.y), 'y').toBeLessThan(REL_TOL);
  expect(relError(ours.movingMean, stock.movingMean), 'moving mean').toBeLessThan(REL_TOL);
  expect(relError(ours.movingVariance, stock.movingVariance), 'moving variance').toBeLessThan(REL_TOL);
  ours.grads.forEach((g, i) => expect(relError(g, stock.grads[i]), `gradient ${['x', 'gamma', 'beta'][i]}`).toBeLessThan(REL_TOL));
}

describe('fused BatchNormalization training step against tf.layers', () => {
  const cases = [
    { shape: [4, 5, 5, 3], mean: 0 },
    { shape: [2, 6, 6, 16], mean: 5 },
    { shape: [7, 13], mean: -2 },
  ];
  for (const backend of BACKENDS) {
    it.each(cases)(`${backend}: $shape, mean $mean`, async ({ shape, mean }) => {
      await onBackend(backend, () => {
        const stock = withStockBatchNormLayer(() => trainOnce(shape, mean));
        expectSame(trainOnce(shape, mean), stock);
        // Moving averages moved 0.1 of the way from (0, 1) towards the batch statistics.
        expect(Math.abs(stock.movingMean[0] - 0.1 * mean)).toBeLessThan(0.1 * 3);
        expect(stock.grads[0].some((v) => Math.abs(v) > 1e-3)).toBe(true);
      });
    });
  }
  it('wasm with the SIMD kernels off (the JS fallback on the heap)', async () => {
    await onBackend('wasm', () => {
      const stock = withStockBatchNormLayer(() => trainOnce([3, 4, 4, 12], 1));
      return withoutSimd(() => expectSame(trainOnce([3, 4, 4, 12], 1), stock));
    });
  });
});
