import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FusedAdamOptimizer } from '../../engine/adam.ts';
import { adamUpdateInPlace } from '../../engine/kernels/AdamUpdate.ts';
import { onBackend, relError, seeded } from './compare.ts';

const LR = 0.05;
const EPS = 1e-7;
const H = { lr: LR, beta1: 0.9, beta2: 0.999, epsilon: EPS, step: 1 };

/** Adam's first step from zero moments, by hand: m̂ = g and v̂ = g², so x − lr·g/(|g| + ε). */
function firstStep(x: Float32Array, g: Float32Array): Float32Array {
  return x.map((xi, i) => xi - (LR * g[i]) / (Math.abs(g[i]) + EPS));
}

/** A 1×1 convolution / matrix product by hand: rows [p][cin] · w [cin][cout] + bias. */
function byHand(rows: Float32Array, w: Float32Array, bias: Float32Array | null, cin: number, cout: number): Float32Array {
  const out = new Float32Array((rows.length / cin) * cout);
  for (let p = 0; p < rows.length / cin; p++) {
    for (let o = 0; o < cout; o++) {
      let s = bias ? bias[o] : 0;
      for (let c = 0; c < cin; c++) s += rows[p * cin + c] * w[c * cout + o];
      out[p * cout + o] = s;
    }
  }
  return out;
}

/** A variable that alone holds its buffer (tf.variable shares its initial value's until that is freed). */
function sole(init: tf.Tensor, trainable = true): tf.Variable {
  const v = tf.variable(init, trainable, `v${Math.random()}`);
  init.dispose();
  return v;
}

const CIN = 3;
const COUT = 4;

/**
 * The ops whose wasm kernels (XNNPACK) pack their weights into an operator cached by the
 * weight tensor's id: the bug was that they kept computing with the weights from before an
 * in-place step. Each reads a [CIN, COUT] weight and an optional [COUT] bias.
 */
const READERS: [string, boolean, (input: tf.Tensor4D, w: tf.Tensor, bias: tf.Tensor) => tf.Tensor][] = [
  ['conv2d', false, (input, w) => tf.conv2d(input, w.reshape([1, 1, CIN, COUT]) as tf.Tensor4D, 1, 'same')],
  ['fused conv2d + bias', true, (input, w, bias) => tf.fused.conv2d({ x: input, filter: w.reshape([1, 1, CIN, COUT]) as tf.Tensor4D, strides: 1, pad: 'same', bias })],
  ['matMul', false, (input, w) => tf.matMul(input.reshape([-1, CIN]) as tf.Tensor2D, w as tf.Tensor2D)],
  ['fused matMul + bias', true, (input, w, bias) => tf.fused.matMul({ a: input.reshape([-1, CIN]) as tf.Tensor2D, b: w as tf.Tensor2D, bias })],
];

describe('adamUpdateInPlace', () => {
  it.each(READERS)('on wasm, %s run after the in-place step computes with the new weights (not the packed old ones)', async (_name, withBias, read) => {
    await onBackend('wasm', () => {
      const input = tf.tensor4d(seeded([2, 3, 3, CIN], 5), [2, 3, 3, CIN]);
      const rows = input.dataSync() as Float32Array;
      const w0 = seeded([CIN, COUT], 6);
      const b0 = seeded([COUT], 7);
      const gw = seeded([CIN, COUT], 8);
      const gb = seeded([COUT], 9);
      const w = sole(tf.tensor2d(w0, [CIN, COUT]));
      const b = sole(tf.tensor1d(b0));
      const slots = [w, w, b, b].map((t) => sole(tf.zerosLike(t), false));
      const [gwT, gbT] = [tf.tensor2d(gw, [CIN, COUT]), tf.tensor1d(gb)];
      const run = (): Float32Array => tf.tidy(() => read(input, w, b).dataSync() as Float32Array);

      // first use builds (and caches) the backend's operator with w0, b0
      expect(relError(run(), byHand(rows, w0, withBias ? b0 : null, CIN, COUT))).toBeLessThan(1e-5);
      const ids = [w.dataId, b.dataId];
      expect(adamUpdateInPlace(w, gwT, slots[0], slots[1], H)).toBe(true);
      expect(adamUpdateInPlace(b, gbT, slots[2], slots[3], H)).toBe(true);
      expect([w.dataId, b.dataId]).toEqual(ids); // written in place: same tensors, same buffers

      const w1 = firstStep(w0, gw);
      const b1 = firstStep(b0, gb);
      expect(relError(w.dataSync(), w1)).toBeLessThan(1e-6);
      expect(relError(run(), byHand(rows, w1, withBias ? b1 : null, CIN, COUT))).toBeLessThan(1e-5);
      tf.dispose([input, w, b, ...slots, gwT, gbT]);
    });
  });

  it('keeps FusedAdamOptimizer (the data-parallel replicas\' optimiser) in step with tf.train.adam on a conv + dense net', async () => {
    await onBackend('wasm', () => {
      const train = (opt: tf.Optimizer): { losses: number[]; kept: boolean } => {
        const m = tf.sequential();
        m.add(tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }));
        m.add(tf.layers.flatten());
        m.add(tf.layers.dense({ units: 1 }));
        m.setWeights(m.getWeights().map((w, i) => tf.tensor(seeded(w.shape, 70 + i), w.shape)));
        const x = tf.tensor4d(seeded([4, 5, 5, 2], 80), [4, 5, 5, 2]);
        const y = tf.tensor2d(seeded([4, 1], 81), [4, 1]);
        const losses: number[] = [];
        const ids = (): object[] => m.trainableWeights.map((w) => w.read().dataId);
        let afterStep2: object[] = [];
        for (let s = 0; s < 6; s++) {
          const loss = opt.minimize(() => tf.losses.meanSquaredError(y, m.apply(x) as tf.Tensor) as tf.Scalar, true) as tf.Scalar;
          losses.push(loss.dataSync()[0]);
          loss.dispose();
          if (s === 1) afterStep2 = ids();
        }
        const kept = ids().every((id, i) => id === afterStep2[i]);
        tf.dispose([x, y]);
        opt.dispose();
        m.dispose();
        return { losses, kept };
      };
      const ours = train(new FusedAdamOptimizer(0.05, 0.9, 0.999, 1e-7));
      const ref = train(tf.train.adam(0.05, 0.9, 0.999, 1e-7));
      expect([ours.kept, ref.kept]).toEqual([true, false]); // ours wrote steps 3–6 in place
      expect(ours.losses[5]).toBeLessThan(0.5 * ours.losses[0]);
      expect(relError(ours.losses, ref.losses)).toBeLessThan(1e-4);
    });
  });
});
