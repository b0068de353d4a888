import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { getNamedWeights } from '../../models/weights.ts';
import { evaluate } from '../../train/evaluate.ts';
import { trainLocal, type TrainConfig } from '../../train/loop.ts';
import { segmentationTask } from '../../train/segmentation.ts';
import { relError, seeded } from '../engine/compare.ts';
import { blobSet, tinyClassifier, tinySegmenter } from './fixtures.ts';

const SIZE = 8;
// 61 rows in batches of 16: the last batch (13 rows) splits unevenly, 7 + 6
const train = blobSet(61, SIZE, 11);
const val = blobSet(32, SIZE, 12);
const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 3,
  batchSize: 16,
  optimizer: { kind: 'adam', weightDecay: 0.01 },
  schedule: { lr: 0.02, kind: 'cosine', warmupSteps: 2 },
  seed: 3,
  augment: { flip: 0.5, rotateDeg: 10, scale: 0.1, intensity: 0.1, gamma: 0.1, noise: 0.02 },
  kd: { temperature: 2, alpha: 0.5 },
  ...over,
});

/** tinyClassifier without batch norm: sharded gradients then average to the whole batch's exactly. */
function noBnClassifier(seed = 1): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 1], name: 'input' });
  let h = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv1', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.globalMaxPooling2d({ name: 'pool' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'fc', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('trainLocal on data-parallel replicas', () => {
  it('two replicas give the one-thread run: KD, weight decay, schedule, augmentation, FedProx and a mask', async () => {
    const soft = seeded([61, 2], 5);
    const start = getNamedWeights(noBnClassifier(7));
    // conv1's channel 2 pruned
    const masks = [{ name: 'conv1/kernel', shape: [1, 1, 1, 4], data: new Float32Array([1, 1, 0, 1]) }];
    const run = async (replicas: number) => {
      const model = noBnClassifier();
      const r = await trainLocal({ model, train, val, softLabels: soft, initialWeights: start, proximalMu: 0.1, masks, config: config({ replicas }) });
      return { r, weights: getNamedWeights(model) };
    };
    const one = await run(1);
    const two = await run(2);
    expect(two.r.metrics.history.map((h) => h.trainLoss).every(Number.isFinite)).toBe(true);
    expect(relError(two.r.metrics.history.map((h) => h.trainLoss), one.r.metrics.history.map((h) => h.trainLoss))).toBeLessThan(1e-4);
    one.weights.forEach((w, i) => {
      expect(two.weights[i].name).toBe(w.name);
      expect(relError(two.weights[i].data, w.data), w.name).toBeLessThan(1e-4);
    });
    // the pruned channel stayed zero, and training moved the weights
    const kernel = two.weights.find((w) => w.name === 'conv1/kernel')!.data;
    for (let i = 2; i < kernel.length; i += 4) expect(Math.abs(kernel[i])).toBe(0);
    expect(relError(kernel, start.find((w) => w.name === 'conv1/kernel')!.data)).toBeGreaterThan(1e-2);
  });

  it('with batch norm, learns the task and keeps the moving statistics of the epoch it returns', async () => {
    const model = tinyClassifier(SIZE);
    const bnBefore = getNamedWeights(model).find((w) => w.name.includes('moving_mean'))!.data.slice();
    const r = await trainLocal({ model, train, val, config: config({ epochs: 6, kd: undefined, replicas: 2 }) });
    const after = evaluate(model, val);
    expect(after.auc).toBeGreaterThan(0.9);
    // the restored best epoch's figures are those of the model as returned, moving statistics included
    expect(r.metrics.val?.auc).toBeCloseTo(after.auc, 6);
    expect(r.metrics.val?.loss).toBeCloseTo(after.loss, 5);
    const bnAfter = getNamedWeights(model).find((w) => w.name.includes('moving_mean'))!.data;
    expect(relError(bnAfter, bnBefore)).toBeGreaterThan(1e-3);
  });

  it('a task without a replica loss, or a bad count, is refused with a clear error', async () => {
    await expect(trainLocal({ model: tinySegmenter(SIZE), train, task: segmentationTask(), config: config({ replicas: 2 }) })).rejects.toThrow(/segmentation task cannot train on 2 replicas/);
    await expect(trainLocal({ model: noBnClassifier(), train, config: config({ replicas: 0 }) })).rejects.toThrow(/replicas must be a whole number/);
  });
});
