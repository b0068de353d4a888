import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { initBackend } from '../../engine/backend.ts';
import { augmentImage } from '../../train/augment.ts';
import { classificationTask } from '../../train/classification.ts';
import { LocalOptimizer } from '../../train/optimizer.ts';
import { diceBceLoss } from '../../train/segmentation.ts';
import { trainStep } from '../../train/step.ts';
import type { Task } from '../../train/types.ts';
import { trainableVariables } from '../../train/weights.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

/** A linear classifier on 2×1×1 images with hand-set weights: logits = [x0, x1]·W. */
function linear(w: number[][]): tf.LayersModel {
  const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 1, 1] }), tf.layers.dense({ units: 2, useBias: false, name: 'lin' })] });
  m.setWeights([tf.tensor2d(w)]);
  return m;
}

describe('classificationTask', () => {
  it('uses the KD loss with soft labels and cross-entropy without, on hand-computed logits', () => {
    const model = linear([[1, 0], [0, 1]]); // logits = the image's two pixels
    const task = classificationTask({ numClasses: 2, kd: { temperature: 1, alpha: 1 } });
    const x = tf.tensor4d([0, 0], [1, 2, 1, 1]);
    const labels = tf.tensor1d([1], 'int32');
    // KL([3/4, 1/4] ‖ [1/2, 1/2]) = 0.75 ln 1.5 + 0.25 ln 0.5
    const kd = task.batchLoss(model, { x, labels, softLabels: tf.tensor2d([[Math.log(3), 0]]) }, false).dataSync()[0];
    expect(kd).toBeCloseTo(0.75 * Math.log(1.5) + 0.25 * Math.log(0.5), 5);
    expect(task.batchLoss(model, { x, labels }, false).dataSync()[0]).toBeCloseTo(Math.LN2, 6);
  });
});

describe('diceBceLoss', () => {
  it('equals the hand-computed value', () => {
    // logits 0 → p = ½ everywhere; mask [1, 0, 0, 0]: BCE = ln 2; soft Dice = (2·½ + 1)/(2 + 1 + 1) = ½
    const v = diceBceLoss(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, tf.tensor4d([1, 0, 0, 0], [1, 2, 2, 1])).dataSync()[0];
    expect(v).toBeCloseTo(Math.LN2 + 0.5, 6);
  });
});

describe('trainStep with a proximal term', () => {
  it('moves w by −lr·μ·(w − w_global) when the task loss is flat', () => {
    const model = linear([[1, 2], [3, 4]]);
    const flat: Task = { name: 'flat', batchLoss: (m) => tf.mul(tf.sum(m.trainableWeights[0].read()), 0) as tf.Scalar, evaluate: () => ({ loss: 0, n: 0 }), score: () => 0 };
    const vars = trainableVariables(model);
    const optimizer = new LocalOptimizer(vars, { kind: 'sgd', momentum: 0 });
    const anchor = [tf.tensor2d([[0, 0], [1, 1]])];
    const batch = { x: tf.zeros([1, 2, 1, 1]) as tf.Tensor4D, labels: tf.tensor1d([0], 'int32') };
    const loss = trainStep({ model, task: flat, optimizer, vars, proximal: { mu: 2, anchor } }, batch, 0.1);
    // loss = μ/2·‖w − a‖² = 1·(1 + 4 + 4 + 9) = 18; w ← w − 0.1·2·(w − a)
    expect(loss).toBeCloseTo(18, 5);
    expect(Array.from(vars[0].dataSync())).toEqual([0.8, 1.6, 2.6, 3.4].map((v) => expect.closeTo(v, 6)));
  });
});

describe('augmentImage', () => {
  it('flips and shifts image and mask alike, zero-filling', () => {
    const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const flipped = img.slice();
    augmentImage(flipped, undefined, 3, 1, { flip: 1 }, new Rng(1));
    expect(Array.from(flipped)).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7]);
    // shift of 1: draws (after the flip draw) dy, dx ∈ {−1, 0, 1}; compare with a direct shift of what was drawn
    for (let seed = 0; seed < 20; seed++) {
      const a = img.slice();
      const mask = Float32Array.from([0, 0, 0, 0, 1, 0, 0, 0, 0]);
      augmentImage(a, mask, 3, 1, { flip: 0, shift: 1 }, new Rng(seed));
      const r = new Rng(seed);
      r.next();
      const dy = r.int(3) - 1;
      const dx = r.int(3) - 1;
      const want = Array.from({ length: 9 }, (_, p) => {
        const sy = Math.floor(p / 3) - dy;
        const sx = (p % 3) - dx;
        return sy >= 0 && sy < 3 && sx >= 0 && sx < 3 ? img[sy * 3 + sx] : 0;
      });
      expect(Array.from(a)).toEqual(want);
      expect(mask[(1 + dy) * 3 + 1 + dx]).toBe(1);
    }
  });
});
