import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HintRegressor, hintLoss } from '../../distill/hint.ts';
import { crossEntropy, kdLoss, logSoftmax } from '../../distill/losses.ts';
import { Rng } from '../../core/rng.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A second, independent implementation in plain float64 JavaScript. */
function refLogSoftmax(z: number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}
function refKd(s: number[][], t: number[][], y: number[], T: number, alpha: number): number {
  let total = 0;
  for (let i = 0; i < s.length; i++) {
    const lpt = refLogSoftmax(t[i].map((v) => v / T));
    const lps = refLogSoftmax(s[i].map((v) => v / T));
    const kl = lpt.reduce((acc, lp, j) => acc + Math.exp(lp) * (lp - lps[j]), 0);
    const ce = -refLogSoftmax(s[i])[y[i]];
    total += alpha * T * T * kl + (1 - alpha) * ce;
  }
  return total / s.length;
}

function kd(s: number[][], t: number[][], y: number[], opts?: { temperature?: number; alpha?: number }): number {
  return tf.tidy(() => kdLoss(tf.tensor2d(s), tf.tensor2d(t), tf.tensor1d(y, 'int32'), opts).dataSync()[0]);
}

describe('kdLoss', () => {
  it('equals hand-computed values', () => {
    // equal logits: KL = 0, CE = ln 2, loss = (1 − 0.7)·ln 2
    expect(kd([[0, 0]], [[0, 0]], [0])).toBeCloseTo(0.3 * Math.LN2, 6);
    // T = 1, α = 1: p_t = [3/4, 1/4], p_s = [1/2, 1/2]; KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.1308120
    expect(kd([[0, 0]], [[Math.log(3), 0]], [1], { temperature: 1, alpha: 1 })).toBeCloseTo(0.130812, 5);
    // α = 0 leaves plain cross-entropy: −log softmax([2, 0, −1])[0] = log(1 + e^−2 + e^−3) = 0.1698460
    expect(kd([[2, 0, -1]], [[9, 9, 9]], [0], { alpha: 0 })).toBeCloseTo(0.169846, 5);
  });

  it('matches a float64 reference on random binary and multi-class batches', () => {
    const rng = new Rng(7);
    for (const k of [2, 3, 5]) {
      const n = 6;
      const s = Array.from({ length: n }, () => Array.from({ length: k }, () => rng.normal() * 3));
      const t = Array.from({ length: n }, () => Array.from({ length: k }, () => rng.normal() * 3));
      const y = Array.from({ length: n }, () => rng.int(k));
      for (const [T, alpha] of [[4, 0.7], [1, 0.5], [2.5, 0.2]]) {
        expect(kd(s, t, y, { temperature: T, alpha })).toBeCloseTo(refKd(s, t, y, T, alpha), 4);
      }
    }
  });

  it('stays finite for huge logits (log-softmax is stable)', () => {
    const v = kd([[1000, -1000]], [[-1000, 1000]], [0], { temperature: 1, alpha: 0.5 });
    // KL → 2000 (p_t puts all mass on class 1, log p_s(1) = −2000); CE = 0
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeCloseTo(0.5 * 2000, 1);
  });

  it('has the gradient of the float64 reference (central differences)', () => {
    const s = [[0.3, -1.2, 0.8]];
    const t = [[1.0, 0.1, -0.4]];
    const y = [2];
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => kdLoss(x as tf.Tensor2D, tf.tensor2d(t), tf.tensor1d(y, 'int32')))(tf.tensor2d(s)).arraySync() as number[][]);
    const h = 1e-5;
    for (let j = 0; j < 3; j++) {
      const up = s.map((r) => r.map((v, c) => (c === j ? v + h : v)));
      const dn = s.map((r) => r.map((v, c) => (c === j ? v - h : v)));
      expect(g[0][j]).toBeCloseTo((refKd(up, t, y, 4, 0.7) - refKd(dn, t, y, 4, 0.7)) / (2 * h), 4);
    }
  });

  it('rejects a bad temperature or alpha', () => {
    expect(() => kd([[0, 0]], [[0, 0]], [0], { temperature: 0 })).toThrow(/temperature/);
    expect(() => kd([[0, 0]], [[0, 0]], [0], { alpha: 1.5 })).toThrow(/alpha/);
  });
});

describe('logSoftmax and crossEntropy', () => {
  it('agree with the reference', () => {
    const z = [[1, 2, 3], [-5, 0, 5]];
    const got = tf.tidy(() => logSoftmax(tf.tensor2d(z)).arraySync());
    z.forEach((row, i) => refLogSoftmax(row).forEach((v, j) => expect(got[i][j]).toBeCloseTo(v, 5)));
    const ce = tf.tidy(() => crossEntropy(tf.tensor2d([[0, 1, 0], [1, 0, 0]]), tf.tensor2d(z)).dataSync()[0]);
    expect(ce).toBeCloseTo(-(refLogSoftmax(z[0])[1] + refLogSoftmax(z[1])[0]) / 2, 5);
  });
});

describe('hint loss', () => {
  it('equals the hand-computed MSE of a 1x1 regression', () => {
    // student 1x1x2 map [1, 2]; kernel maps to 1 channel with weights [3, −1] → 1; teacher 4 → (1−4)² = 9
    const v = tf.tidy(() => hintLoss(tf.tensor4d([1, 2], [1, 1, 1, 2]), tf.tensor4d([4], [1, 1, 1, 1]), tf.tensor4d([3, -1], [1, 1, 2, 1])).dataSync()[0]);
    expect(v).toBeCloseTo(9, 6);
  });

  it('trains its regressor towards the teacher', () => {
    const r = new HintRegressor(2, 1, 3);
    const s = tf.tensor4d([1, 0, 0, 1, 1, 1, 2, -1], [1, 2, 2, 2]);
    const t = tf.tensor4d([2, -1, 1, 5], [1, 2, 2, 1]); // = 2·c0 − 1·c1
    const opt = tf.train.sgd(0.05);
    for (let i = 0; i < 400; i++) opt.minimize(() => r.loss(s, t), false, [r.kernel]);
    expect(Array.from(r.kernel.dataSync())).toEqual([expect.closeTo(2, 2), expect.closeTo(-1, 2)]);
    r.dispose();
    tf.dispose([s, t]);
    opt.dispose();
  });
});
