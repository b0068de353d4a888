import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { packTensors } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { applyMasks } from '../../prune/apply-masks.ts';
import { compactWeights, expandWeights, scatterAxes, sliceAxes } from '../../prune/compact.ts';
import { federatedMasks, pruneSettingsSchema, pruningStep } from '../../prune/federated.ts';
import { analyzeChannels } from '../../prune/graph.ts';
import { channelImportance } from '../../prune/importance.ts';
import { selectMasks } from '../../prune/select.ts';
import { shrinkModel } from '../../prune/surgery.ts';
import { buildToyNet, randomizeWeights } from './fixtures.ts';

/** input → conv 'a' (8) → conv 'b' (4, output). */
function chain(): tf.LayersModel {
  const input = tf.input({ shape: [4, 4, 2] });
  const a = tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'a' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'b' }).apply(a) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: b });
}

const keptIdx = (m: boolean[]): number[] => m.flatMap((k, i) => (k ? [i] : []));

describe('federated pruning', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('parses settings with defaults and names a bad field', () => {
    const s = pruneSettingsSchema.parse({ ratio: 0.4, atRounds: [6, 3] });
    expect(s).toMatchObject({ criterion: 'l1', scope: 'uniform', round8: false, source: 'global-model' });
    expect(pruningStep(s, 3)).toEqual({ step: 1, steps: 2 });
    expect(pruningStep(s, 6)).toEqual({ step: 2, steps: 2 });
    expect(pruningStep(s, 4)).toBeUndefined();
    const bad = pruneSettingsSchema.safeParse({ ratio: 0.4, atRounds: [3], critrion: 'l2' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('critrion');
    expect(pruneSettingsSchema.safeParse({ ratio: 1.2, atRounds: [3] }).success).toBe(false);
  });

  it('ranks on the summed site scores when the sites report them', () => {
    const settings = pruneSettingsSchema.parse({ ratio: 0.5, atRounds: [2], source: 'site-scores' });
    const siteA = { a: [1, 0, 0, 0, 5, 0, 0, 3] };
    const siteB = { a: [0, 4, 0, 2, 0, 0, 1, 0] };
    const m = federatedMasks(chain(), settings, 2, { siteScores: [siteA, siteB] })!;
    expect(keptIdx(m.a)).toEqual([1, 3, 4, 7]); // sums 4, 2, 5, 3 are the top four
    expect(federatedMasks(chain(), settings, 1, { siteScores: [siteA] })).toBeUndefined();
    expect(() => federatedMasks(chain(), settings, 2)).toThrow(/no site reported/);
  });

  it('grows masks over the pruning rounds on the global model, keeping earlier cuts', () => {
    const model = buildToyNet();
    randomizeWeights(model, 41);
    const settings = pruneSettingsSchema.parse({ ratio: 0.5, atRounds: [2, 4] });
    const first = federatedMasks(model, settings, 2)!;
    expect(first['stem/conv'].filter(Boolean)).toHaveLength(6);
    applyMasks(model, first);
    const second = federatedMasks(model, settings, 4, { previous: first })!;
    expect(second['stem/conv'].filter(Boolean)).toHaveLength(4);
    first['stem/conv'].forEach((k, c) => k || expect(second['stem/conv'][c]).toBe(false));
    expect(JSON.parse(JSON.stringify(second))).toEqual(second);
  });

  it('slices and scatters along cut axes (hand example)', () => {
    const data = Float32Array.from({ length: 12 }, (_, i) => i);
    const cols = { axis: 1, keep: [true, false, true, false] };
    expect(sliceAxes(data, [3, 4], [cols])).toEqual({ data: Float32Array.from([0, 2, 4, 6, 8, 10]), shape: [3, 2] });
    const both = sliceAxes(data, [3, 4], [{ axis: 0, keep: [false, true, true] }, cols]);
    expect(Array.from(both.data)).toEqual([4, 6, 8, 10]);
    expect(Array.from(scatterAxes(both.data, [3, 4], [{ axis: 0, keep: [false, true, true] }, cols]))).toEqual([0, 0, 0, 0, 4, 0, 6, 0, 8, 0, 10, 0]);
  });

  it('sends compact weights: the shrunk model’s shapes and values, expanded back to the masked model', async () => {
    const model = buildToyNet();
    randomizeWeights(model, 42);
    const g = analyzeChannels(model);
    const masks = selectMasks(g, channelImportance(model, g, 'l2'), { ratio: 0.5, criterion: 'l2' });
    const compact = compactWeights(model, masks, g);
    const small = await shrinkModel(model, masks, g);
    expect(compact.map((t) => t.shape)).toEqual(small.weights.map((w) => w.shape));
    compact.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(small.weights[i].read().dataSync())));
    const full = packTensors(model.weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: 'float32' as const, data: w.read().dataSync() as Float32Array })));
    expect(packTensors(compact).length).toBeLessThan(0.5 * full.length);
    applyMasks(model, masks, g);
    const expanded = expandWeights(model, masks, compact, g);
    expanded.forEach((t, i) => {
      const w = model.weights[i];
      const want = Array.from(w.read().dataSync(), (v) => v + 0); // -0 → 0
      if (w.originalName.endsWith('moving_variance')) {
        // applyMasks leaves the moving variance; expansion zero-fills masked channels (γ = 0 there)
        t.data.forEach((v, c) => expect(v === 0 || v === want[c]).toBe(true));
      } else expect(Array.from(t.data, (v) => v + 0)).toEqual(want);
    });
  });
});
