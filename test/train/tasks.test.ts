import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
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
