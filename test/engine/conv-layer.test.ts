import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withStockConvLayer } from '../../engine/conv-layer.ts';
import { BACKENDS, REL_TOL, onBackend, relError, seeded } from './compare.ts';

// Bias-free Conv2D layers run as tf.conv2d (engine/conv-layer.ts): the same output and
// gradients as tf.layers' own fused path, and the model input's gradient is not computed.

function outputAndGrads(kernel: [number, number], strides: number, padding: 'same' | 'valid'): Float32Array[] {
  return tf.tidy(() => {
    const shape = [2, 9, 9, 3];
    const layer = tf.layers.conv2d({ filters: 5, kernelSize: kernel, strides, padding, useBias: false });
    layer.build(shape);
    layer.setWeights([tf.tensor(seeded([...kernel, 3, 5], 71), [...kernel, 3, 5])]);
    const w = layer.trainableWeights[0].read() as tf.Variable;
    const x = tf.tensor(seeded(shape, 72), shape);
    const out = layer.apply(x) as tf.Tensor;
    const r = tf.tensor(seeded(out.shape, 73), out.shape);
    const f = (xi: tf.Tensor): tf.Scalar => tf.sum(tf.mul(layer.apply(xi) as tf.Tensor, r));
    const { grads } = tf.variableGrads(() => f(x), [w]);
    return [out, grads[w.name], tf.grad(f)(x)].map((t) => t.dataSync() as Float32Array);
  });
}

describe('bias-free Conv2D layer as tf.conv2d', () => {
  const cases = [
    { kernel: [3, 3] as [number, number], strides: 2, padding: 'same' as const },
    { kernel: [1, 1] as [number, number], strides: 1, padding: 'same' as const },
    { kernel: [3, 2] as [number, number], strides: 1, padding: 'valid' as const },
  ];
  for (const backend of BACKENDS) {
    it.each(cases)(`${backend}: kernel $kernel stride $strides $padding: output, dW, dx as tf.layers'`, async ({ kernel, strides, padding }) => {
      await onBackend(backend, () => {
        const stock = withStockConvLayer(() => outputAndGrads(kernel, strides, padding));
        const ours = outputAndGrads(kernel, strides, padding);
        ours.forEach((v, i) => expect(relError(v, stock[i]), ['output', 'dW', 'dx'][i]).toBeLessThan(REL_TOL));
        expect(stock[1].some((v) => Math.abs(v) > 1e-2)).toBe(true);
      });
    });
  }

  it('computes no input gradient for the model input (no Conv2DBackpropInput kernel runs)', async () => {
    await onBackend('wasm', async () => {
      const layer = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false });
      const x = tf.tensor(seeded([2, 8, 8, 1], 74), [2, 8, 8, 1]);
      layer.build(x.shape);
      const w = layer.trainableWeights[0].read() as tf.Variable;
      const kernelsRun = async (): Promise<string[]> => {
        const info = await tf.profile(() => tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor), [w]).grads[w.name]);
        return info.kernelNames;
      };
      expect(await kernelsRun()).not.toContain('Conv2DBackpropInput');
      expect(await withStockConvLayer(kernelsRun)).toContain('Conv2DBackpropInput');
    });
  });
});
