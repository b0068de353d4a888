import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, countMacs } from '../../models/index.ts';
import { MOBILE_S_BLOCKS } from '../../models/mobile-s.ts';
import { pruneModel } from '../../prune/prune.ts';
import { maxAbsDiff, randomInput, randomizeBatchNorm } from './fixtures.ts';

/** mobile-s MACs at a 64-pixel, 1-channel input, 2 classes, written out from the architecture for given widths. */
function mobileSMacs(stem: number, widths: number[]): number {
  let hw = 32;
  let macs = hw * hw * 9 * 1 * stem;
  let c = stem;
  MOBILE_S_BLOCKS.forEach(([, s], i) => {
    hw = Math.ceil(hw / s);
    macs += hw * hw * 9 * c + hw * hw * c * widths[i];
    c = widths[i];
  });
  return macs + c * 2;
}

describe('pruning the reference models', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  for (const arch of ['mobile-s', 'cnn-s', 'teacher-l', 'unet-s']) {
    it(`${arch}: the pruned model equals the masked one within 1e-5`, async () => {
      const model = buildModel(arch, { inputSize: 32, seed: 3 });
      randomizeBatchNorm(model, 9);
      const r = await pruneModel(model, { ratio: 0.4, criterion: 'l1', roundTo: 8 });
      const x = randomInput([2, 32, 32, 1], 4);
      const want = model.predict(x) as tf.Tensor; // masked in place by pruneModel
      const got = r.model.predict(x) as tf.Tensor;
      expect(got.shape).toEqual(want.shape);
      expect(maxAbsDiff(want, got)).toBeLessThan(1e-5);
      expect(tf.max(tf.abs(want)).dataSync()[0]).toBeGreaterThan(0.01); // a real signal, not zeros
      expect(r.report.after.params).toBeLessThan(r.report.before.params);
    });
  }

  it('mobile-s: ratio 0.3 with widths rounded to 8 cuts at least 40% of the MACs (hand-counted)', async () => {
    const model = buildModel('mobile-s', { inputSize: 64 });
    const r = await pruneModel(model, { ratio: 0.3, criterion: 'l1', roundTo: 8 });
    const w = (name: string) => r.masks[name].filter(Boolean).length;
    expect(w('stem/conv')).toBe(8); // 16 − 5 = 11 → 8
    const widths = MOBILE_S_BLOCKS.map((_, i) => w(`block${i + 1}/pw`));
    expect(widths).toEqual([24, 48, 48, 88, 88]);
    expect(r.report.before.macs).toBe(mobileSMacs(16, MOBILE_S_BLOCKS.map(([c]) => c)));
    expect(r.report.after.macs).toBe(mobileSMacs(8, widths));
    expect(r.report.reduction.macs).toBeGreaterThanOrEqual(0.4);
  });

  it('cnn-s: ratio 0.25 cuts at least 40% of the MACs', async () => {
    const model = buildModel('cnn-s', { inputSize: 64 });
    const r = await pruneModel(model, { ratio: 0.25, criterion: 'l2' });
    expect(r.report.after.macs).toBe(countMacs(r.model));
    // plain 3x3 convs: MACs scale with kept_in·kept_out, so (0.75)² ≈ 0.56 of the conv MACs remain
    expect(r.report.reduction.macs).toBeGreaterThanOrEqual(0.4);
    expect(r.report.reduction.macs).toBeLessThan(0.5);
  });
});
