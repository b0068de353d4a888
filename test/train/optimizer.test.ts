import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalOptimizer } from '../../train/optimizer.ts';
import { learningRateAt } from '../../train/schedule.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('LocalOptimizer', () => {
  it('takes hand-computed Adam steps', () => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const opt = new LocalOptimizer([w], { kind: 'adam' });
    // step 1: m̂ = g, v̂ = g², update = g/(|g| + ε) ≈ sign(g)
    opt.step([tf.tensor1d([0.5, -3])], 0.1);
    expect(Array.from(w.dataSync())).toEqual([expect.closeTo(0.9, 6), expect.closeTo(-1.9, 6)]);
    // step 2 with g = [0.5, 1]: m = [0.095, −0.17], v = [0.00049975, 0.009991]; m̂ = m/0.19, v̂ = v/0.001999
    opt.step([tf.tensor1d([0.5, 1])], 0.1);
    const upd = [0.095 / 0.19 / Math.sqrt(0.00049975 / 0.001999), -0.17 / 0.19 / Math.sqrt(0.009991 / 0.001999)];
    expect(w.dataSync()[0]).toBeCloseTo(0.9 - 0.1 * upd[0], 5);
    expect(w.dataSync()[1]).toBeCloseTo(-1.9 - 0.1 * upd[1], 5);
    opt.dispose();
  });

  it('takes hand-computed SGD-momentum steps with decoupled weight decay on kernels only', () => {
    const k = tf.variable(tf.tensor2d([[2]]));
    const b = tf.variable(tf.tensor1d([2]));
    const opt = new LocalOptimizer([k, b], { kind: 'sgd', momentum: 0.5, weightDecay: 0.1 });
    opt.step([tf.tensor2d([[1]]), tf.tensor1d([1])], 0.1);
    // kernel: buf = 1; w = 2 − 0.1·1 − 0.1·0.1·2 = 1.88; bias: 2 − 0.1 = 1.9
    expect(k.dataSync()[0]).toBeCloseTo(1.88, 6);
    expect(b.dataSync()[0]).toBeCloseTo(1.9, 6);
    opt.step([tf.tensor2d([[1]]), tf.tensor1d([1])], 0.1);
    // buf = 0.5 + 1 = 1.5; kernel = 1.88 − 0.15 − 0.01·1.88 = 1.7112; bias = 1.9 − 0.15 = 1.75
    expect(k.dataSync()[0]).toBeCloseTo(1.7112, 6);
    expect(b.dataSync()[0]).toBeCloseTo(1.75, 6);
    opt.dispose();
  });

  it('resumes exactly from its saved state', () => {
    const grads = [[0.3, -1], [0.2, 0.4], [-0.7, 0.1]].map((g) => tf.tensor1d(g));
    const a = tf.variable(tf.tensor1d([1, 1]));
    const optA = new LocalOptimizer([a], { kind: 'adam' });
    grads.forEach((g) => optA.step([g], 0.05));
    const b = tf.variable(tf.tensor1d([1, 1]));
    const optB = new LocalOptimizer([b], { kind: 'adam' });
    optB.step([grads[0]], 0.05);
    const state = optB.getState();
    const optC = new LocalOptimizer([b], { kind: 'adam' });
    optC.setState(state);
    optC.step([grads[1]], 0.05);
    optC.step([grads[2]], 0.05);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  });
});

describe('learningRateAt', () => {
  it('warms up linearly then follows a cosine to the floor', () => {
    const s = { lr: 1, kind: 'cosine' as const, warmupSteps: 4, minLr: 0 };
    expect([0, 1, 2, 3].map((t) => learningRateAt(s, t, 14))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRateAt(s, 4, 14)).toBeCloseTo(1, 12);
    expect(learningRateAt(s, 9, 14)).toBeCloseTo(0.5, 12); // halfway: ½(1 + cos π/2)
    expect(learningRateAt(s, 14, 14)).toBeCloseTo(0, 12);
    expect(learningRateAt({ lr: 0.3, kind: 'constant', warmupSteps: 0 }, 7, 10)).toBe(0.3);
  });
});
