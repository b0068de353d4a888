import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, REL_TOL, onBackend, relError, seeded } from './compare.ts';

/**
 * A sweep over the ops training graphs are made of: forward values and input gradients on
 * wasm against cpu (two independent kernel sets). It found wasm's ResizeNearestNeighborGrad
 * ignoring halfPixelCenters and the missing UnsortedSegmentSum (tf.gather's gradient).
 */
const S: [number, number, number, number] = [2, 6, 6, 4];
const w = (shape: number[], s: number): tf.Tensor => tf.tensor(seeded(shape, s), shape);
const f4 = (t: tf.Tensor): tf.Tensor4D => t as tf.Tensor4D;

const OPS: Record<string, (x: tf.Tensor4D) => tf.Tensor> = {
  'avgPool 3 s2 same': (x) => tf.avgPool(x, 3, 2, 'same'),
  'maxPool 3 s1 same': (x) => tf.maxPool(x, 3, 1, 'same'),
  'resizeBilinear': (x) => tf.image.resizeBilinear(x, [9, 11]),
  'resizeBilinear alignCorners': (x) => tf.image.resizeBilinear(x, [9, 11], true),
  'resizeBilinear halfPixelCenters': (x) => tf.image.resizeBilinear(x, [4, 9], false, true),
  'resizeNearest halfPixelCenters': (x) => tf.image.resizeNearestNeighbor(x, [9, 7], false, true),
  'relu6': (x) => tf.relu6(x.mul(4)),
  'leakyRelu': (x) => tf.leakyRelu(x, 0.1),
  'elu': (x) => tf.elu(x),
  'sigmoid': (x) => tf.sigmoid(x),
  'tanh': (x) => tf.tanh(x),
  'prelu': (x) => tf.prelu(x, w([4], 3)),
  'logSoftmax': (x) => tf.logSoftmax(x.reshape([72, 4])),
  'concat + slice': (x) => tf.concat([x, x.slice([0, 1, 0, 0], [2, 4, 6, 4])], 1),
  'split': (x) => tf.split(x, [1, 3], 3)[1],
  'pad': (x) => tf.pad(x, [[0, 0], [1, 2], [2, 1], [0, 0]]),
  'max over H, W': (x) => tf.max(x, [1, 2]),
  'mean over W, C': (x) => tf.mean(x, [2, 3]),
  'matMul transposeA': (x) => tf.matMul(x.reshape([24, 12]), w([24, 5], 4), true, false),
  'matMul transposeB': (x) => tf.matMul(x.reshape([24, 12]), w([5, 12], 4), false, true),
  'batched matMul': (x) => tf.matMul(x.reshape([2, 18, 8]), w([2, 8, 3], 5)),
  'conv2dTranspose s2': (x) => tf.conv2dTranspose(x, f4(w([3, 3, 5, 4], 6)), [2, 12, 12, 5], 2, 'same'),
  'separableConv2d': (x) => tf.separableConv2d(x, f4(w([3, 3, 4, 2], 7)), f4(w([1, 1, 8, 5], 8)), 1, 'same'),
  'fused conv2d + bias + relu': (x) => tf.fused.conv2d({ x, filter: f4(w([3, 3, 4, 3], 9)), strides: 2, pad: 'same', bias: w([3], 10), activation: 'relu' }),
  'fused depthwise + bias + relu6': (x) => tf.fused.depthwiseConv2d({ x, filter: f4(w([3, 3, 4, 1], 11)), strides: 1, pad: 'same', bias: w([4], 12), activation: 'relu6' }),
  'fused matMul + bias + relu': (x) => tf.fused.matMul({ a: x.reshape([24, 12]), b: w([12, 5], 13), bias: w([5], 14), activation: 'relu' }),
  'gather (UnsortedSegmentSum in its gradient)': (x) => tf.gather(x, tf.tensor1d([3, 0, 3], 'int32'), 3),
  'tile': (x) => tf.tile(x, [1, 2, 1, 3]),
  'transpose': (x) => tf.transpose(x, [0, 3, 1, 2]),
  'clipByValue': (x) => tf.clipByValue(x, -0.5, 0.7),
  'sigmoid cross-entropy': (x) => tf.losses.sigmoidCrossEntropy(tf.greater(w(S, 15), 0).toFloat(), x),
  'l2 normalise': (x) => tf.div(x, tf.norm(x, 'euclidean', 3, true).add(1e-3)),
};

describe('op forward values and gradients, wasm against cpu', () => {
  it.each(Object.keys(OPS))('%s', async (name) => {
    const f = OPS[name];
    const x0 = seeded(S, 1);
    const r: Record<string, Float32Array[]> = {};
    for (const b of BACKENDS) {
      r[b] = await onBackend(b, () =>
        tf.tidy(() => {
          const x = tf.tensor4d(x0, S);
          const y = f(x);
          const weights = tf.tensor(seeded(y.shape, 99), y.shape);
          const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi as tf.Tensor4D), weights)))(x);
          return [y.dataSync() as Float32Array, g.dataSync() as Float32Array];
        }),
      );
    }
    expect(relError(r.wasm[0], r.cpu[0]), 'forward').toBeLessThan(REL_TOL);
    expect(relError(r.wasm[1], r.cpu[1]), 'gradient').toBeLessThan(REL_TOL);
    expect(r.cpu[1].some((v) => v !== 0)).toBe(true);
  });
});
