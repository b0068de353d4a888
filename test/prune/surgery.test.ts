import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { applyMasks } from '../../prune/apply-masks.ts';
import { analyzeChannels } from '../../prune/graph.ts';
import { channelImportance, type Criterion } from '../../prune/importance.ts';
import type { PruneMasks } from '../../prune/masks.ts';
import { selectMasks } from '../../prune/select.ts';
import { shrinkModel } from '../../prune/surgery.ts';
import { buildToyNet, maxAbsDiff, randomInput, randomizeWeights, weightValues } from './fixtures.ts';

const kept = (m: boolean[]): number[] => m.flatMap((k, i) => (k ? [i] : []));

/** Prunes a toy net and returns the masked original, the shrunk model and the masks. */
async function pruneToy(criterion: Criterion, scope: 'uniform' | 'global', flatten: boolean, ratio = 0.5) {
  const model = buildToyNet({ flatten });
  randomizeWeights(model, 11);
  const g = analyzeChannels(model);
  const masks = selectMasks(g, channelImportance(model, g, criterion), { ratio, criterion, scope });
  const original = weightValues(model, 'mix/conv');
  const originalFc = weightValues(model, 'fc1');
  const small = await shrinkModel(model, masks, g);
  applyMasks(model, masks, g);
  return { model, small, masks, original, originalFc };
}

/** The toy net's parameter count for given kept channel counts, written out by hand. */
function toyParams(s: number, r: number, d: number, x: number, f: number, rows: number): number {
  return 27 * s + 4 * s + 9 * s + 4 * s + s * r + 4 * r + (9 * r * r + r) + 4 * r + (r * d + d) + (9 * (r + d) * x + x) + (rows * x * f + f) + (3 * f + 3);
}

describe('physical surgery', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  for (const [criterion, scope, flatten] of [['l1', 'uniform', true], ['l2', 'global', true], ['bn', 'uniform', false], ['bn', 'global', false]] as const) {
    it(`the smaller model's outputs equal the masked model's within 1e-5 (${criterion}, ${scope}, ${flatten ? 'flatten' : 'GAP'})`, async () => {
      const { model, small, masks } = await pruneToy(criterion, scope, flatten);
      const x = randomInput([4, 12, 12, 3], 5);
      const want = model.predict(x) as tf.Tensor;
      const got = small.predict(x) as tf.Tensor;
      expect(got.shape).toEqual([4, 3]);
      expect(maxAbsDiff(want, got)).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(want)).dataSync()[0]).toBeGreaterThan(0.1); // a real signal, not zeros
      const n = (name: string) => masks[name].filter(Boolean).length;
      expect(small.countParams()).toBe(toyParams(n('stem/conv'), n('b1/pw'), n('side/conv'), n('mix/conv'), n('fc1'), flatten ? 9 : 1));
      expect(small.countParams()).toBeLessThan(model.countParams());
    });
  }

  it('slices conv kernels on input (across the concat) and output channels, and dense rows after flatten', async () => {
    const { small, masks, original, originalFc } = await pruneToy('l1', 'uniform', true);
    const res = kept(masks['b1/pw']);
    const ins = [...res, ...kept(masks['side/conv']).map((c) => 12 + c)];
    const outs = kept(masks['mix/conv']);
    const k = weightValues(small, 'mix/conv');
    expect(k.shape).toEqual([3, 3, ins.length, outs.length]);
    // kernel [3,3,18,10] indexed by hand
    for (let p = 0; p < 9; p++) {
      ins.forEach((i, ii) => outs.forEach((o, oo) => {
        expect(k.data[(p * ins.length + ii) * outs.length + oo]).toBe(original.data[(p * 18 + i) * 10 + o]);
      }));
    }
    const rows = Array.from({ length: 90 }, (_, r) => r).filter((r) => masks['mix/conv'][r % 10]);
    const fcOut = kept(masks.fc1);
    const fc = weightValues(small, 'fc1');
    expect(fc.shape).toEqual([rows.length, fcOut.length]);
    rows.forEach((r, rr) => fcOut.forEach((o, oo) => expect(fc.data[rr * fcOut.length + oo]).toBe(originalFc.data[r * 16 + o])));
  });

  it('slices BN parameters and moving statistics and depthwise filters of the stem channels', async () => {
    const model = buildToyNet();
    randomizeWeights(model, 3);
    const masks: PruneMasks = { 'stem/conv': [true, false, false, true, true, false, true, false] };
    const small = await shrinkModel(model, masks);
    const keep = [0, 3, 4, 6];
    for (let i = 0; i < 4; i++) {
      const before = weightValues(model, 'stem/bn', i).data;
      expect(Array.from(weightValues(small, 'stem/bn', i).data)).toEqual(keep.map((c) => before[c]));
    }
    const dw = weightValues(model, 'b1/dw').data; // [3,3,8,1]
    const sdw = weightValues(small, 'b1/dw');
    expect(sdw.shape).toEqual([3, 3, 4, 1]);
    for (let p = 0; p < 9; p++) keep.forEach((c, j) => expect(sdw.data[p * 4 + j]).toBe(dw[p * 8 + c]));
    expect(weightValues(small, 'b1/pw').shape).toEqual([1, 1, 4, 12]);
  });

  it('shrinks a Sequential model too', async () => {
    const m = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 6, kernelSize: 3, name: 'q1', activation: 'relu' }),
        tf.layers.batchNormalization({ name: 'qbn' }),
        tf.layers.flatten({}),
        tf.layers.dense({ units: 2, name: 'qout' }),
      ],
    });
    randomizeWeights(m, 12);
    const masks: PruneMasks = { q1: [true, false, true, true, false, false] };
    const small = await shrinkModel(m, masks);
    applyMasks(m, masks);
    const x = randomInput([3, 6, 6, 2], 1);
    expect(weightValues(small, 'qout').shape).toEqual([16 * 3, 2]);
    expect(maxAbsDiff(m.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
  });
});
