import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { createMaskHook, trainableWeightMasks } from '../../prune/apply-masks.ts';
import { analyzeChannels } from '../../prune/graph.ts';
import type { PruneMasks } from '../../prune/masks.ts';
import { pruneIteratively } from '../../prune/schedule.ts';
import { shrinkModel } from '../../prune/surgery.ts';
import { Rng } from '../../core/rng.ts';
import { buildToyNet, maxAbsDiff, randomInput, randomizeWeights, weightValues } from './fixtures.ts';

const STEM: boolean[] = [true, false, true, true, false, true, true, false];
const RES: boolean[] = Array.from({ length: 12 }, (_, i) => i % 3 !== 1);
const MASKS: PruneMasks = { 'stem/conv': STEM, 'b1/pw': RES, 'res/conv': RES };

/** Gradients of a squared-output loss w.r.t. the trainable weights, keyed by variable name. */
function gradients(model: tf.LayersModel, x: tf.Tensor): tf.NamedTensorMap {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return tf.variableGrads(() => tf.mean(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars).grads;
}

describe('masks during training', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('zeroes exactly the gradient entries of pruned input and output channels', () => {
    const model = buildToyNet();
    randomizeWeights(model, 21);
    const hook = createMaskHook(model, MASKS);
    const grads = gradients(model, randomInput([2, 12, 12, 3], 1));
    const masked = hook.maskGradients(grads);
    const name = model.getLayer('b1/pw').weights[0].name; // kernel [1,1,8,12]
    const g = grads[name].dataSync();
    const m = masked[name].dataSync();
    let nonzeroPruned = 0;
    for (let i = 0; i < 8; i++) {
      for (let o = 0; o < 12; o++) {
        const k = i * 12 + o;
        if (STEM[i] && RES[o]) expect(m[k]).toBe(g[k]);
        else {
          expect(m[k] === 0).toBe(true);
          if (g[k] !== 0) nonzeroPruned++;
        }
      }
    }
    expect(nonzeroPruned).toBeGreaterThan(0); // without the hook these entries would train
    const gammaName = model.getLayer('stem/bn').weights[0].name;
    expect(Array.from(masked[gammaName].dataSync()).map((v, c) => (STEM[c] ? 'k' : Math.abs(v)))).toEqual(STEM.map((k) => (k ? 'k' : 0)));
    hook.dispose();
  });

  it('a masked SGD step keeps the model equal to its shrunk version', async () => {
    const model = buildToyNet();
    randomizeWeights(model, 22);
    const hook = createMaskHook(model, MASKS);
    hook.applyToWeights();
    const x = randomInput([2, 12, 12, 3], 2);
    const grads = hook.maskGradients(gradients(model, x));
    tf.train.sgd(0.05).applyGradients(grads);
    hook.applyToWeights();
    const stem = weightValues(model, 'stem/conv').data; // [3,3,3,8]
    for (let k = 0; k < stem.length; k++) if (!STEM[k % 8]) expect(stem[k] === 0).toBe(true);
    const small = await shrinkModel(model, MASKS);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
    hook.dispose();
  });

  it('gives train/ 0/1 masks over trainable weights by saved name', () => {
    const model = buildToyNet();
    const wm = trainableWeightMasks(model, MASKS);
    const names = wm.map((w) => w.name);
    expect(names).toContain('b1/pw/kernel');
    expect(names).toContain('stem/bn/gamma');
    expect(names.some((n) => n.includes('moving'))).toBe(false);
    expect(names).toContain('mix/conv/kernel'); // its input rows follow b1/pw through the add and concat
    expect(names).not.toContain('fc1/kernel'); // untouched by these masks
    const pw = wm.find((w) => w.name === 'b1/pw/kernel')!;
    expect(pw.shape).toEqual([1, 1, 8, 12]);
    expect(Array.from(pw.data)).toEqual(Array.from({ length: 96 }, (_, k) => (STEM[Math.floor(k / 12)] && RES[k % 12] ? 1 : 0)));
  });

  it('iterates: masks grow by ratio·step/steps, pruned channels stay pruned, fine-tuning cannot revive them', async () => {
    const model = buildToyNet();
    randomizeWeights(model, 23);
    const g = analyzeChannels(model);
    const seen: PruneMasks[] = [];
    const rng = new Rng(4);
    const { masks, steps } = await pruneIteratively(model, g, {
      ratio: 0.5,
      steps: 2,
      criterion: 'l1',
      fineTune: async (m, mk) => {
        seen.push(mk);
        for (const w of m.trainableWeights) w.write(tf.tidy(() => tf.add(w.read(), tf.mul(0.05, randomInput(w.shape as number[], rng.int(1e6))))));
      },
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]['stem/conv'].filter(Boolean)).toHaveLength(6); // 8 − round(0.25·8)
    expect(seen[1]['stem/conv'].filter(Boolean)).toHaveLength(4);
    expect(seen[0]['b1/pw'].filter(Boolean)).toHaveLength(9);
    for (const [name, m] of Object.entries(seen[0])) m.forEach((k, c) => k || expect(seen[1][name][c]).toBe(false));
    expect(steps.map((s) => s.ratio)).toEqual([0.25, 0.5]);
    const stem = weightValues(model, 'stem/conv').data;
    for (let k = 0; k < stem.length; k++) if (!masks['stem/conv'][k % 8]) expect(stem[k] === 0).toBe(true);
    const x = randomInput([2, 12, 12, 3], 3);
    const small = await shrinkModel(model, masks, g);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
  });
});
