import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { createMaskHook } from '../../prune/apply-masks.ts';
import { evaluate } from '../../train/evaluate.ts';
import { trainLocal, YIELD_EVERY_MS, type TrainConfig } from '../../train/loop.ts';
import { aucMannWhitney } from '../../train/metrics.ts';
import { segmentationTask } from '../../train/segmentation.ts';
import { blobSet, tinyClassifier, tinySegmenter } from './fixtures.ts';

const SIZE = 8;
const train = blobSet(64, SIZE, 1);
const val = blobSet(32, SIZE, 2);
const config = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  epochs: 4,
  batchSize: 16,
  optimizer: { kind: 'adam' },
  schedule: { lr: 0.03, kind: 'cosine', warmupSteps: 2 },
  seed: 5,
  augment: { flip: 0.5, rotateDeg: 10, scale: 0.1, intensity: 0.1, gamma: 0.1, noise: 0.02 },
  ...over,
});

beforeAll(async () => {
  await initBackend('cpu');
});

describe('trainLocal', () => {
  it('learns the task; evaluate agrees with an independent AUC of the predictions', async () => {
    const model = tinyClassifier(SIZE);
    const before = evaluate(model, val);
    const r = await trainLocal({ model, train, val, config: config({ epochs: 6 }) });
    const after = evaluate(model, val);
    expect(after.auc).toBeGreaterThan(0.9);
    expect(after.auc).toBeGreaterThan(before.auc);
    expect(r.numExamples).toBe(64);
    expect(r.metrics.val?.auc).toBeCloseTo(after.auc, 6); // best weights restored
    const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor4d(val.x, [val.n, SIZE, SIZE, 1])) as tf.Tensor).arraySync() as number[][]);
    expect(after.auc).toBeCloseTo(aucMannWhitney(probs.map((p) => p[1]), Array.from(val.labels)), 6);
    expect(after.accuracy).toBeCloseTo(probs.filter((p, i) => (p[1] > p[0] ? 1 : 0) === val.labels[i]).length / val.n, 6);
  });

  it('keeps the live tensor count flat across epochs', async () => {
    const model = tinyClassifier(SIZE);
    const counts: number[] = [];
    const start = tf.memory().numTensors;
    await trainLocal({ model, train, val, softLabels: new Float32Array(64 * 2).fill(0.5), config: config(), onEpochEnd: (e) => counts.push(e.numTensors) });
    expect(counts).toHaveLength(4);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(start);
  });

  it('resumes from its checkpoint to the very weights of an uninterrupted run', async () => {
    const full = await trainLocal({ model: tinyClassifier(SIZE), train, val, config: config({ checkpointDir: mkdtempSync(path.join(tmpdir(), 'ckA-')) }) });
    const dir = mkdtempSync(path.join(tmpdir(), 'ckB-'));
    const crash = (e: { epoch: number }): void => {
      if (e.epoch === 1) throw new Error('killed');
    };
    await expect(trainLocal({ model: tinyClassifier(SIZE), train, val, config: config({ checkpointDir: dir }), onEpochEnd: crash })).rejects.toThrow('killed');
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', 'ckpt-2.bin']);
    const resumed = await trainLocal({ model: tinyClassifier(SIZE), train, val, config: config({ checkpointDir: dir }) });
    expect(resumed.metrics.history.map((h) => h.epoch)).toEqual([0, 1, 2, 3]);
    resumed.weights.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(full.weights[i].data)));
    // another run's settings are refused, not silently mixed
    await expect(trainLocal({ model: tinyClassifier(SIZE), train, val, config: config({ checkpointDir: dir, seed: 6 }) })).rejects.toThrow(/different run/);
  });

  it('stops early when the score stops rising', async () => {
    const r = await trainLocal({ model: tinyClassifier(SIZE), train, val, config: config({ epochs: 10, schedule: { lr: 0, kind: 'constant', warmupSteps: 0 }, earlyStopping: { patience: 2 } }) });
    // lr 0: epoch 0 is best; epochs 1 and 2 do not improve; epoch 3 is not run
    expect(r.metrics.epochs).toBe(3);
    expect(r.metrics.stoppedEarly).toBe(true);
    expect(r.metrics.bestEpoch).toBe(0);
  });

  it('keeps masked channels and their gradients at zero', async () => {
    const keep = Float32Array.from([1, 0, 1, 0]);
    const model = tinyClassifier(SIZE);
    const init = model.getWeights().map((t) => Array.from(t.dataSync()));
    const r = await trainLocal({ model, train, config: config({ epochs: 2, optimizer: { kind: 'sgd', momentum: 0.9 } }), masks: [{ name: 'conv1/kernel', shape: [1, 1, 1, 4], data: keep }, { name: 'conv1/bias', shape: [4], data: keep }] });
    const kernel = r.weights.find((w) => w.name === 'conv1/kernel')!.data;
    for (let i = 0; i < kernel.length; i++) {
      if (keep[i % 4] === 0) expect(Math.abs(kernel[i])).toBe(0);
      else expect(kernel[i]).not.toBe(init[0][i]);
    }
    expect(Math.abs(r.weights.find((w) => w.name === 'conv1/bias')!.data[1])).toBe(0);
  });

  it("plugs prune/'s MaskHook into every step", async () => {
    const model = tinyClassifier(SIZE);
    const hook = createMaskHook(model, { conv1: [true, false, false, true] });
    const r = await trainLocal({ model, train, config: config({ epochs: 2 }), maskHook: hook });
    hook.dispose();
    const get = (n: string): Float32Array => r.weights.find((w) => w.name === n)!.data;
    for (let i = 0; i < get('conv1/kernel').length; i++) expect(Math.abs(get('conv1/kernel')[i]) === 0).toBe(i % 4 === 1 || i % 4 === 2);
    expect([1, 2].map((c) => Math.abs(get('bn1/gamma')[c]))).toEqual([0, 0]);
    expect([0, 3].every((c) => get('bn1/gamma')[c] !== 0)).toBe(true);
  });

  it("gives the event loop a turn while it trains, so a site's heartbeat timer fires mid-training (it once waited for the whole local training)", async () => {
    const model = tinyClassifier(SIZE);
    // every step also spins 25 ms on this thread, as a real model's step does: 4 epochs × 4 steps ≈ 400 ms of synchronous work
    const spin = (): void => {
      const until = performance.now() + 25;
      while (performance.now() < until);
    };
    const beats: number[] = [];
    const beat = setInterval(() => beats.push(performance.now()), 5);
    const t0 = performance.now();
    try {
      await trainLocal({ model, train, config: config(), maskHook: { applyToWeights: spin, maskGradients: (g) => g } });
    } finally {
      clearInterval(beat);
    }
    const t1 = performance.now();
    const during = beats.filter((t) => t < t1);
    expect(t1 - t0).toBeGreaterThanOrEqual(16 * 25);
    // a turn once YIELD_EVERY_MS have passed, at the next step (each well under YIELD_EVERY_MS here): a beat at least every 2 × YIELD_EVERY_MS
    expect(during.length).toBeGreaterThanOrEqual(Math.floor((t1 - t0) / (2 * YIELD_EVERY_MS)) - 1);
    expect(during.length).toBeGreaterThanOrEqual(2);
  });

  it('with FedProx stays nearer the global weights, the more so the larger μ', async () => {
    const global = (await trainLocal({ model: tinyClassifier(SIZE), train, config: config({ epochs: 1 }) })).weights;
    const dist = async (mu: number): Promise<number> => {
      const r = await trainLocal({ model: tinyClassifier(SIZE, 9), train, initialWeights: global, proximalMu: mu, config: config({ epochs: 2, optimizer: { kind: 'sgd', momentum: 0 }, schedule: { lr: 0.05, kind: 'constant', warmupSteps: 0 } }) });
      return r.weights.filter((w) => !w.name.includes('moving')).reduce((s, w, i) => s + w.data.reduce((a, v, j) => a + (v - global.filter((g) => !g.name.includes('moving'))[i].data[j]) ** 2, 0), 0);
    };
    const [d0, d1, d10] = [await dist(0), await dist(1), await dist(10)];
    expect(d1).toBeLessThan(d0);
    expect(d10).toBeLessThan(d1);
  });

  it('trains a segmenter with Dice + BCE through the same loop', async () => {
    const model = tinySegmenter(SIZE);
    const task = segmentationTask();
    const before = task.evaluate(model, val, 16);
    const r = await trainLocal({ model, train, val, task, config: config({ epochs: 5, augment: undefined }) });
    expect(r.metrics.val?.dice).toBeGreaterThan(before.dice! + 0.2);
    expect(r.metrics.val?.dice).toBeGreaterThan(0.6);
  });
});
