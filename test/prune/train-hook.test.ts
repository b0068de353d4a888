import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { initBackend } from '../../engine/backend.ts';
import { createMaskHook } from '../../prune/apply-masks.ts';
import { analyzeChannels } from '../../prune/graph.ts';
import { channelImportance } from '../../prune/importance.ts';
import { selectMasks } from '../../prune/select.ts';
import { shrinkModel } from '../../prune/surgery.ts';
import { trainLocal } from '../../train/loop.ts';
import { buildToyNet, maxAbsDiff, randomInput, randomizeWeights, weightValues } from './fixtures.ts';

/** A random 3-class image set of n 12×12×3 images. */
function imageSet(n: number, seed: number) {
  const rng = new Rng(seed);
  return {
    n,
    size: 12,
    channels: 3,
    x: Float32Array.from({ length: n * 12 * 12 * 3 }, () => rng.normal()),
    labels: Int32Array.from({ length: n }, () => rng.int(3)),
  };
}

describe('pruning masks in train/’s local loop', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('two Adam epochs with the MaskHook keep pruned channels at zero and the model equal to its shrunk version', async () => {
    const model = buildToyNet();
    randomizeWeights(model, 31);
    const g = analyzeChannels(model);
    const masks = selectMasks(g, channelImportance(model, g, 'l1'), { ratio: 0.5, criterion: 'l1' });
    const hook = createMaskHook(model, masks, g);
    hook.applyToWeights();
    const before = Float32Array.from(weightValues(model, 'mix/conv').data);
    await trainLocal({
      model,
      train: imageSet(16, 1),
      config: { epochs: 2, batchSize: 8, seed: 1, optimizer: { kind: 'adam' }, schedule: { kind: 'constant', lr: 0.01, warmupSteps: 0 } },
      maskHook: hook,
    });
    hook.dispose();
    const after = weightValues(model, 'mix/conv').data;
    expect(maxAbsDiff(tf.tensor(before), tf.tensor(after))).toBeGreaterThan(1e-4); // it trained
    const keepOut = masks['mix/conv'];
    for (let k = 0; k < after.length; k++) if (!keepOut[k % 10]) expect(after[k] === 0).toBe(true);
    const x = randomInput([2, 12, 12, 3], 6);
    const small = await shrinkModel(model, masks, g);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
  });
});
