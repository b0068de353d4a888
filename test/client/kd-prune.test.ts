import { beforeAll, describe, expect, it } from 'vitest';
import { KdTrainer } from '../../client/kd-trainer.ts';
import type { NamedTensor } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { getNamedWeights } from '../../models/weights.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { federatedMasks, pruneSettingsSchema, trainableWeightMasks, type PruneMasks } from '../../prune/index.ts';
import { KD_SIZE, kdSite } from './kd-site.ts';

const SIZE = KD_SIZE;
const CONFIG: RoundConfig = { round: 2, localEpochs: 1, arch: 'cnn-s', imageSize: SIZE, widthMultiplier: 0.25, batchSize: 8, normalize: 'zscore' };

/** Values of `w` where the 0/1 mask is 0 (removed) and where it is 1 (kept). */
function split(w: NamedTensor, mask: NamedTensor): { removed: number[]; kept: number[] } {
  const removed: number[] = [];
  const kept: number[] = [];
  w.data.forEach((v, i) => (mask.data[i] === 0 ? removed : kept).push(v));
  return { removed, kept };
}

describe('KdTrainer under the masks of a pruning round', () => {
  let site: string;
  let teacher: string;
  let global: NamedTensor[];
  let masks: PruneMasks;
  let weightMasks: NamedTensor[];

  beforeAll(async () => {
    await initBackend();
    ({ site, teacher } = await kdSite('kd-prune', 24, 3, 5));
    const model = buildModel('cnn-s', { inputSize: SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: 0.25, seed: 7 });
    masks = federatedMasks(model, pruneSettingsSchema.parse({ ratio: 0.5, atRounds: [1] }), 1)!;
    // the global weights are not masked: the hook alone must zero the removed channels
    global = getNamedWeights(model);
    weightMasks = trainableWeightMasks(model, masks);
    model.dispose();
  });

  it('trains the kept channels and leaves the removed ones at zero (and without masks they move)', async () => {
    expect(weightMasks.length).toBeGreaterThan(3);
    const masked = await new KdTrainer(site, teacher).fit(global, { ...CONFIG, pruneMasks: masks });
    const free = await new KdTrainer(site, teacher).fit(global, CONFIG);
    let removed = 0;
    let movedKept = 0;
    let movedFree = 0;
    for (const m of weightMasks) {
      const i = global.findIndex((g) => g.name === m.name);
      const a = split(masked.weights[i], m);
      const g = split(global[i], m);
      const f = split(free.weights[i], m);
      // numerically zero: a negative weight times its 0 mask is −0, which Object.is tells from +0
      a.removed.forEach((v) => expect(Math.abs(v)).toBe(0));
      removed += a.removed.length;
      movedKept += a.kept.filter((v, j) => v !== 0 && v !== g.kept[j]).length;
      movedFree += f.removed.filter((v) => v !== 0).length;
    }
    expect(removed).toBeGreaterThan(100);
    expect(movedKept).toBeGreaterThan(100);
    expect(movedFree).toBeGreaterThan(100);
  }, 120_000);
});
