import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { LocalOptimizer } from '../../train/optimizer.ts';
import { trainableVariables } from '../../train/weights.ts';
import { onBackend, relError, seeded, withoutSimd } from '../engine/compare.ts';

/** AdamW by hand in float64 (Loshchilov & Hutter 2019): x ← x − lr·λ·x − lr·m̂/(√v̂ + ε). */
function adamWByHand(x: number[], grads: number[][], lr: number, wd: number, eps: number): number[] {
  const m = x.map(() => 0);
  const v = x.map(() => 0);
  let w = [...x];
  grads.forEach((g, s) => {
    const t = s + 1;
    w = w.map((wi, i) => {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const mHat = m[i] / (1 - 0.9 ** t);
      const vHat = v[i] / (1 - 0.999 ** t);
      return wi - lr * wd * wi - (lr * mHat) / (Math.sqrt(vHat) + eps);
    });
  });
  return w;
}

/** conv 3×3 (bias, ReLU) → flatten → dense: every weight is read by an XNNPACK conv or matMul on wasm. */
function convNet(): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 1 }));
  m.setWeights(m.getWeights().map((w, i) => tf.tensor(seeded(w.shape, 50 + i), w.shape)));
  return m;
}

/** Six Adam steps of convNet on a fixed batch; the losses, final weights, and whether each variable kept its buffer. */
function trainConvNet(weightDecay: number): { losses: number[]; weights: Float32Array[]; sameBuffers: boolean } {
  const model = convNet();
  const vars = trainableVariables(model);
  const opt = new LocalOptimizer(vars, { kind: 'adam', weightDecay });
  const x = tf.tensor4d(seeded([3, 6, 6, 2], 60), [3, 6, 6, 2]);
  const y = tf.tensor2d(seeded([3, 1], 61), [3, 1]);
  const losses: number[] = [];
  let ids: object[] = [];
  let sameBuffers = true;
  for (let s = 0; s < 6; s++) {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, vars);
      opt.step(vars.map((v) => grads[v.name]), 0.05);
      return value;
    });
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    // from step 2 on, each variable holds the buffer it had after step 1
    if (s > 1) sameBuffers &&= vars.every((v, i) => v.dataId === ids[i]);
    ids = vars.map((v) => v.dataId);
  }
  const weights = vars.map((v) => v.dataSync() as Float32Array);
  tf.dispose([x, y]);
  opt.dispose();
  model.dispose();
  return { losses, weights, sameBuffers };
}

describe('LocalOptimizer on wasm (Adam steps written in place)', () => {
  it('takes hand-computed AdamW steps, decay on kernels only', async () => {
    await onBackend('wasm', () => {
      const k = tf.variable(tf.tensor2d([[1, -2], [0.5, 3]]));
      const b = tf.variable(tf.tensor1d([2, -1]));
      const opt = new LocalOptimizer([k, b], { kind: 'adam', weightDecay: 0.2, epsilon: 1e-8 });
      const gk = [[0.5, -3, 0.1, 2], [0.5, 1, -0.2, 2]];
      const gb = [[1, -0.5], [-2, 0.25]];
      const ids: object[] = [];
      gk.forEach((g, s) => {
        const [tk, tb] = [tf.tensor2d(g, [2, 2]), tf.tensor1d(gb[s])];
        opt.step([tk, tb], 0.1);
        tf.dispose([tk, tb]);
        ids.push(b.dataId);
      });
      expect(ids[1]).toBe(ids[0]); // the bias's second step was written into its buffer
      expect(relError(k.dataSync(), adamWByHand([1, -2, 0.5, 3], gk, 0.1, 0.2, 1e-8))).toBeLessThan(1e-6);
      expect(relError(b.dataSync(), adamWByHand([2, -1], gb, 0.1, 0, 1e-8))).toBeLessThan(1e-6);
      tf.dispose([k, b]);
      opt.dispose();
    });
  });

  it.each([0, 0.05])('trains a conv + dense net (weight decay %s) step for step like the kernel path (fresh buffers each step)', async (wd) => {
    await onBackend('wasm', async () => {
      const inPlace = trainConvNet(wd);
      const viaKernel = await withoutSimd(() => trainConvNet(wd));
      // every variable keeps its buffer, with decay too: the kernel scales x by 1 − lr·λ in the same pass
      expect(inPlace.sameBuffers).toBe(true);
      expect(viaKernel.sameBuffers).toBe(false);
      // the loss is the forward pass with the current weights: it drops, and stays with the reference
      expect(inPlace.losses[5]).toBeLessThan(0.5 * inPlace.losses[0]);
      expect(relError(inPlace.losses, viaKernel.losses)).toBeLessThan(1e-4);
      inPlace.weights.forEach((w, i) => expect(relError(w, viaKernel.weights[i]), `variable ${i}`).toBeLessThan(1e-4));
    });
  });
});
