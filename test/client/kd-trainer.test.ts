import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KdTrainer, roundLearningRate, studentSpec } from '../../client/kd-trainer.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { getNamedWeights, setNamedWeights } from '../../models/weights.ts';
import type { NamedTensor } from '../../core/tensors.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { classifierAuc } from '../../train/metrics.ts';
import { predictLogits, softmaxRows } from '../../train/classification.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { KD_SIZE, kdSite } from './kd-site.ts';

const SIZE = KD_SIZE;
const CONFIG: RoundConfig = { round: 1, localEpochs: 1, arch: 'cnn-s', imageSize: SIZE, widthMultiplier: 0.25, batchSize: 8, normalize: 'zscore' };

const rows = (file: string): number => readFileSync(file, 'utf8').trim().split('\n').length - 1;
const distance = (a: NamedTensor[], b: NamedTensor[]): number => Math.sqrt(a.reduce((s, t, i) => s + t.data.reduce((q, v, j) => q + (v - b[i].data[j]) ** 2, 0), 0));

describe('KdTrainer: the hospital trainer over train/, data/ and distill/', () => {
  let site: string;
  let teacher: string;
  let global: NamedTensor[];

  beforeAll(async () => {
    await initBackend();
    ({ site, teacher } = await kdSite('kd', 24, 3, 5));
    const spec = studentSpec(CONFIG);
    global = getNamedWeights(buildModel('cnn-s', { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: spec.widthMultiplier, seed: 7 }));
  });

  it('announces the training split size and trains E epochs from the global weights', async () => {
    const t = new KdTrainer(site, teacher);
    expect(await t.datasetSize()).toBe(rows(path.join(site, 'train', 'labels.csv')));
    const out = await t.fit(global, CONFIG);
    expect(out.numExamples).toBe(rows(path.join(site, 'train', 'labels.csv')));
    expect(out.weights.map((w) => [w.name, w.shape])).toEqual(global.map((w) => [w.name, w.shape]));
    expect(Number.isFinite(out.metrics.loss)).toBe(true);
    expect(distance(out.weights, global)).toBeGreaterThan(0);
    // FedProx: a large μ holds the weights nearer the global model
    const prox = await new KdTrainer(site, teacher).fit(global, { ...CONFIG, proximalMu: 50 });
    expect(distance(prox.weights, global)).toBeLessThan(distance(out.weights, global));
  });

  it("evaluates on the site's held-out split: AUC of the softmax scores", async () => {
    const t = new KdTrainer(site, teacher);
    const e = await t.evaluate(global, CONFIG);
    const test = (await loadSitePart(site, 'test', { size: SIZE, channels: 1, window: 'file', normalize: 'zscore' }))!;
    expect(e.numExamples).toBe(rows(path.join(site, 'test', 'labels.csv')));
    const model = buildModel('cnn-s', { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: 0.25, seed: 99 });
    setNamedWeights(model, global);
    const probs = softmaxRows(predictLogits(model, test, 16), 2);
    expect(e.metrics.auc).toBeCloseTo(classifierAuc(probs, test.labels, 2), 6);
  });
});

describe('roundLearningRate: the local learning rate across rounds', () => {
  it('constant by default; a cosine from lr to lr·minLrFactor over the rounds when asked (hand-computed)', () => {
    const spec = studentSpec({ round: 1, localEpochs: 1, lr: 0.01, totalRounds: 5, minLrFactor: 0.1 } as RoundConfig);
    expect([1, 3, 5].map((r) => roundLearningRate(spec, r))).toEqual([0.01, 0.01, 0.01]);
    const cos = { ...spec, lrDecay: 'cosine' as const };
    // t = (r − 1)/4; lr(t) = 0.001 + 0.009·(1 + cos πt)/2
    const want = [0.01, 0.001 + 0.009 * (1 + Math.SQRT1_2) / 2, 0.0055, 0.001 + 0.009 * (1 - Math.SQRT1_2) / 2, 0.001];
    [1, 2, 3, 4, 5].forEach((r, i) => expect(roundLearningRate(cos, r)).toBeCloseTo(want[i], 12));
    // the calibration rounds after the last stay at the floor
    expect(roundLearningRate(cos, 7)).toBeCloseTo(0.001, 12);
    expect(() => roundLearningRate({ ...spec, lrDecay: 'linear' as never }, 2)).toThrow(/lrDecay must be constant or cosine, not linear/);
  });
});
