import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { baselineKinds, baselinePruning } from '../../cli/simulate/baselines.ts';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, countParams, getNamedWeights } from '../../models/index.ts';
import { analyzeChannels, maskCounts, pruneSettingsSchema, shrinkModel } from '../../prune/index.ts';
import { trainClassifier } from '../../train/recipes.ts';
import { tempDir } from '../federation/fixtures.ts';
import { blobSet } from './fixtures.ts';

describe('a classifier run pruned on a federation’s schedule (the like-for-like baselines)', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('simulate maps pruning after round r of R to after epoch round(r·epochs/R)', () => {
    const d = baselinePruning(loadSimulateConfig(undefined, false))!;
    expect(d.atEpochs).toEqual([20, 30]); // rounds 4 and 6 of 12, 60 epochs
    const f = path.join(tempDir('sim-bp'), 'sim.yaml');
    writeFileSync(f, 'federated:\n  rounds: 5\nbaselines:\n  epochs: 7\n');
    expect(baselinePruning(loadSimulateConfig(f, true))!.atEpochs).toEqual([6]); // quick: round 4 of 5 → 5.6
    writeFileSync(f, 'pruning: false\n');
    expect(baselinePruning(loadSimulateConfig(f, true))).toBeUndefined();
  });

  it('the unpruned centralised baseline only when asked for and the run prunes', () => {
    expect(baselineKinds(loadSimulateConfig(undefined, false))).toEqual(['local', 'centralised']);
    const f = path.join(tempDir('sim-bk'), 'sim.yaml');
    writeFileSync(f, 'baselines: { unpruned: true }\n');
    expect(baselineKinds(loadSimulateConfig(f, false))).toEqual(['local', 'centralised', 'centralised-unpruned']);
    writeFileSync(f, 'baselines: { unpruned: true }\npruning: false\n');
    expect(baselineKinds(loadSimulateConfig(f, false))).toEqual(['local', 'centralised']);
  });

  it('ends at the ratio, with pruned channels at zero: the trained model equals its shrunk version', async () => {
    const settings = pruneSettingsSchema.parse({ ratio: 0.5, atRounds: [1] });
    const { model, masks, result } = await trainClassifier({
      train: blobSet(40, 16, 3),
      recipe: { arch: 'cnn-s', widthMultiplier: 0.5, epochs: 4, batchSize: 16, lr: 5e-3, seed: 2 },
      pruning: { settings, atEpochs: [1, 2] },
    });
    expect(masks).toBeDefined();
    // every group of the uniform scope keeps C − round(C/2) channels after the two steps (hand formula)
    const graph = analyzeChannels(model);
    const free = graph.groups.filter((g) => g.units.every((u) => !graph.units[u].blocked));
    expect(free.length).toBeGreaterThan(2);
    for (const g of free) {
      const c = g.units.length;
      expect(masks![g.producers[0]].filter(Boolean).length).toBe(c - Math.round(0.5 * c));
    }
    const { kept, total } = maskCounts(masks!);
    expect(kept / total).toBeGreaterThan(0.45);
    expect(kept / total).toBeLessThan(0.6);
    // one run of four epochs; the best epoch is chosen after the last pruning step (before epoch 2)
    expect(result.metrics.epochs).toBe(4);
    expect(result.metrics.bestEpoch).toBeGreaterThanOrEqual(2);
    const x = blobSet(4, 16, 9);
    const tfx = (await import('@tensorflow/tfjs')).tensor4d(x.x, [4, 16, 16, 1]);
    const small = await shrinkModel(model, masks!);
    const a = (model.predict(tfx) as tf.Tensor).dataSync();
    const b = (small.predict(tfx) as tf.Tensor).dataSync();
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-4);
    expect(countParams(small).total).toBeLessThan(0.5 * countParams(model).total);
  });

  it('starts from initialWeights (a pre-trained student) instead of the seed’s random weights', async () => {
    const spec = { inputSize: 16, inputChannels: 1, numClasses: 2, widthMultiplier: 0.5 };
    const start = getNamedWeights(buildModel('cnn-s', { ...spec, seed: 7 }));
    const own = getNamedWeights(buildModel('cnn-s', { ...spec, seed: 2 }));
    const { model } = await trainClassifier({ train: blobSet(16, 16, 5), recipe: { arch: 'cnn-s', widthMultiplier: 0.5, epochs: 1, batchSize: 16, lr: 1e-9, seed: 2, valFraction: 0 }, initialWeights: start });
    const after = new Map(getNamedWeights(model).map((w) => [w.name, w.data]));
    const kernels = start.filter((w) => w.name.endsWith('kernel'));
    expect(kernels.length).toBeGreaterThan(2);
    for (const w of kernels) {
      const a = after.get(w.name)!;
      const o = own.find((x) => x.name === w.name)!.data;
      let fromStart = 0;
      let fromOwn = 0;
      for (let i = 0; i < a.length; i++) {
        fromStart = Math.max(fromStart, Math.abs(a[i] - w.data[i]));
        fromOwn = Math.max(fromOwn, Math.abs(a[i] - o[i]));
      }
      expect(fromStart).toBeLessThan(1e-5); // lr 1e-9: the run barely moves them
      expect(fromOwn).toBeGreaterThan(1e-2); // and they are not the seed's own
    }
  });

  it('without pruning: one phase and no masks', async () => {
    const { masks, result } = await trainClassifier({ train: blobSet(24, 16, 4), recipe: { arch: 'cnn-s', widthMultiplier: 0.5, epochs: 2, batchSize: 16, lr: 5e-3, seed: 2 } });
    expect(masks).toBeUndefined();
    expect(result.metrics.epochs).toBe(2);
  });
});
