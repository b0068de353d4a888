import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import { coordinatorPruning } from '../../cli/simulate/pruning.ts';
import { pretrainedFile } from '../../cli/simulate/pretrain.ts';
import { studentRoundConfig } from '../../cli/simulate/steps.ts';
import { siteAugment, studentSpec } from '../../client/kd-trainer.ts';
import { studentRecipe } from '../../cli/simulate/student.ts';
import { DEFAULT_AUGMENT } from '../../data/index.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { UserError } from '../../core/errors.ts';
import { buildModel, countMacs } from '../../models/index.ts';
import { federatedMasks, shrinkModel } from '../../prune/index.ts';
import { tempDir } from '../federation/fixtures.ts';

const yaml = (text: string): string => {
  const f = path.join(tempDir('sim-prune'), 'sim.yaml');
  writeFileSync(f, text);
  return f;
};

describe('simulate: the pruning block', () => {
  it('prunes by default at a third and half of the rounds; --quick at its second-to-last round; false turns it off', () => {
    const d = coordinatorPruning(loadSimulateConfig(undefined, false)).pruning!;
    expect([d.ratio, d.criterion, d.scope, d.atRounds, d.source]).toEqual([0.3, 'l1', 'uniform', [4, 6], 'global-model']);
    expect(coordinatorPruning(loadSimulateConfig(undefined, true)).pruning!.atRounds).toEqual([3]);
    expect(coordinatorPruning(loadSimulateConfig(yaml('pruning: false\n'), true))).toEqual({});
    const own = coordinatorPruning(loadSimulateConfig(yaml('pruning: {ratio: 0.5, criterion: bn, atRounds: [1, 3], source: site-scores}\n'), true)).pruning!;
    expect([own.ratio, own.criterion, own.atRounds, own.source]).toEqual([0.5, 'bn', [1, 3], 'site-scores']);
  });

  it('names the bad field: a ratio out of range, a pruning round after the last', () => {
    expect(() => loadSimulateConfig(yaml('pruning: {ratio: 2}\n'), true)).toThrow(/pruning\.ratio/);
    expect(() => loadSimulateConfig(yaml('pruning: {ratio: 0.3, typo: 1}\n'), true)).toThrow(UserError);
    expect(() => coordinatorPruning(loadSimulateConfig(yaml('pruning: {atRounds: [5]}\n'), true))).toThrow(/pruning\.atRounds: round 5 is after the last round \(4\)/);
  });

  it('the default ratio removes at least 40% of the MACs of the default students (mobile-s, cnn-s at width 0.5, 64 px)', async () => {
    const settings = coordinatorPruning(loadSimulateConfig(undefined, false)).pruning!;
    for (const arch of ['mobile-s', 'cnn-s']) {
      const model = buildModel(arch, { inputSize: 64, inputChannels: 1, numClasses: 2, widthMultiplier: 0.5, seed: 1 });
      // the last pruning step reaches the full ratio
      const masks = federatedMasks(model, settings, settings.atRounds.at(-1)!)!;
      const small = await shrinkModel(model, masks);
      expect(1 - countMacs(small) / countMacs(model)).toBeGreaterThanOrEqual(0.4);
      model.dispose();
      small.dispose();
    }
  });
});

describe('simulate: the test split', () => {
  it('holds 2,000 test images at every site by default; testFraction instead when asked; never both', () => {
    const d = loadSimulateConfig(undefined, false).federation;
    expect([d.imagesPerSite, d.testImages, d.testFraction]).toEqual([160, 2000, undefined]);
    expect(loadSimulateConfig(undefined, true).federation.testFraction).toBe(0.5); // --quick keeps its fraction
    const own = loadSimulateConfig(yaml('federation: {testFraction: 0.6, imagesPerSite: 400}\n'), false).federation;
    expect([own.testImages, own.testFraction]).toEqual([undefined, 0.6]);
    const quick = loadSimulateConfig(yaml('federation: {testImages: 300}\n'), true).federation;
    expect([quick.imagesPerSite, quick.testImages, quick.testFraction]).toEqual([96, 300, undefined]);
    expect(() => loadSimulateConfig(yaml('federation: {testImages: 300, testFraction: 0.5}\n'), false)).toThrow(/give testImages or testFraction, not both/);
  });
});

describe('simulate: distillation settings', () => {
  it("reach every site's student spec through the round config, and the pre-trained student's cache key ignores them", () => {
    const c = loadSimulateConfig(yaml('student: {temperature: 2, alpha: 0.9}\n'), false);
    // the client's own reading of the round config (client/kd-trainer.ts)
    const spec = studentSpec(studentRoundConfig(c) as RoundConfig);
    expect([spec.temperature, spec.alpha, spec.arch, spec.batchSize]).toEqual([2, 0.9, 'cnn-s', 16]);
    const d = studentSpec(studentRoundConfig(loadSimulateConfig(undefined, false)) as RoundConfig);
    expect([d.temperature, d.alpha]).toEqual([4, 0.3]);
    const key = (k: ReturnType<typeof loadSimulateConfig>): string => path.basename(pretrainedFile(k, [path.join(k.work, 'public', 'site-a')]));
    expect(key(c)).toBe(key(loadSimulateConfig(undefined, false)));
    expect(key(loadSimulateConfig(yaml('student: {lr: 0.001}\n'), false))).not.toBe(key(c));
    expect(() => loadSimulateConfig(yaml('student: {alpha: 1.5}\n'), false)).toThrow(/student\.alpha/);
  });
});

describe('simulate: the imitated lower-grade detector (student.degrade)', () => {
  it("reaches the sites' augmentation, the baselines' and the pre-training's recipes alike, and is off by default", () => {
    const c = loadSimulateConfig(yaml('student: {degrade: {p: 0.5, blur: 1, noise: 0.05}}\n'), false);
    const want = { ...DEFAULT_AUGMENT, degrade: { p: 0.5, blur: 1, noise: 0.05 } };
    expect(siteAugment(studentSpec(studentRoundConfig(c) as RoundConfig))).toEqual(want);
    expect(studentRecipe(c, 3, 'b', true).augment).toEqual(want);
    expect(studentRecipe(c, 3, 'p', false).augment).toEqual(want);
    const d = loadSimulateConfig(undefined, false);
    expect(siteAugment(studentSpec(studentRoundConfig(d) as RoundConfig))).toEqual(DEFAULT_AUGMENT);
    expect(studentRecipe(d, 3, 'b', true).augment).toBeUndefined();
    const key = (k: ReturnType<typeof loadSimulateConfig>): string => path.basename(pretrainedFile(k, [path.join(k.work, 'public', 'site-a')]));
    expect(key(c)).not.toBe(key(d));
    expect(() => loadSimulateConfig(yaml('student: {degrade: {p: 2, blur: 1, noise: 0}}\n'), false)).toThrow(/student\.degrade\.p/);
  });
});
