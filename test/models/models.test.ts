import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { ARCHS, buildModel, countMacs, countParams, getNamedWeights, macsByLayer, setNamedWeights } from '../../models/index.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('mobile-s', () => {
  it('has 35,842 trainable parameters at 1 channel and 2 classes (hand count)', () => {
    const m = buildModel('mobile-s', { inputSize: 64, inputChannels: 1, numClasses: 2 });
    // conv weights: stem 3·3·1·16; per block dw 9·c_in + pw c_in·c_out
    const convs = 144 + (144 + 512) + (288 + 2048) + (576 + 4096) + (576 + 8192) + (1152 + 16384);
    const bnChannels = 16 + (16 + 32) + (32 + 64) + (64 + 64) + (64 + 128) + (128 + 128);
    const dense = 128 * 2 + 2;
    expect(convs + 2 * bnChannels + dense).toBe(35842);
    expect(countParams(m)).toEqual({ trainable: 35842, nonTrainable: 2 * bnChannels, total: 35842 + 2 * bnChannels });
  });

  it('counts MACs from the layer graph (hand count at 64×64)', () => {
    const m = buildModel('mobile-s', { inputSize: 64 });
    const expected = [
      ['stem/conv', 32 * 32 * 9 * 16],
      ['block1/dw', 16 * 16 * 9 * 16],
      ['block1/pw', 16 * 16 * 16 * 32],
      ['block2/dw', 8 * 8 * 9 * 32],
      ['block2/pw', 8 * 8 * 32 * 64],
      ['block3/dw', 8 * 8 * 9 * 64],
      ['block3/pw', 8 * 8 * 64 * 64],
      ['block4/dw', 4 * 4 * 9 * 64],
      ['block4/pw', 4 * 4 * 64 * 128],
      ['block5/dw', 4 * 4 * 9 * 128],
      ['block5/pw', 4 * 4 * 128 * 128],
      ['head/logits', 128 * 2],
    ] as const;
    expect(macsByLayer(m).map((l) => [l.layer, l.macs])).toEqual(expected);
    expect(countMacs(m)).toBe(1185024);
  });

  it('has stable, meaningful layer names', () => {
    const names = buildModel('mobile-s').layers.map((l) => l.name);
    expect(names.slice(0, 10)).toEqual(['input', 'stem/conv', 'stem/bn', 'stem/relu', 'block1/dw', 'block1/dw_bn', 'block1/dw_relu', 'block1/pw', 'block1/pw_bn', 'block1/pw_relu']);
    expect(names.slice(-2)).toEqual(['head/pool', 'head/logits']);
  });

  it('scales channels with the width multiplier', () => {
    const m = buildModel('mobile-s', { widthMultiplier: 0.5 });
    expect(m.getLayer('stem/conv').getWeights()[0].shape).toEqual([3, 3, 1, 8]);
    expect(m.getLayer('block5/pw').getWeights()[0].shape).toEqual([1, 1, 64, 64]);
  });
});

describe('the reference architectures', () => {
  it.each([
    ['mobile-s', [3, 5]],
    ['cnn-s', [3, 5]],
    ['teacher-l', [3, 5]],
    ['unet-s', [3, 32, 32, 1]],
  ] as const)('%s maps [3,32,32,2] to %j', (arch, shape) => {
    const m = buildModel(arch, { inputSize: 32, inputChannels: 2, numClasses: 5 });
    const y = m.predict(tf.ones([3, 32, 32, 2])) as tf.Tensor;
    expect(y.shape).toEqual(shape);
    expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('teacher-l has at least 10× the parameters of mobile-s and residual Add layers', () => {
    const t = buildModel('teacher-l');
    const s = buildModel('mobile-s');
    expect(countParams(t).trainable).toBeGreaterThanOrEqual(10 * countParams(s).trainable);
    expect(t.layers.filter((l) => l.getClassName() === 'Add').length).toBe(5);
  });

  it('unet-s has concatenated skips and upsampling, and rejects sizes not divisible by 4', () => {
    const u = buildModel('unet-s', { inputSize: 16 });
    expect(u.layers.filter((l) => l.getClassName() === 'Concatenate').map((l) => l.name)).toEqual(['dec2/concat', 'dec1/concat']);
    expect(u.layers.filter((l) => l.getClassName() === 'UpSampling2D').length).toBe(2);
    expect(() => buildModel('unet-s', { inputSize: 18 })).toThrow(UserError);
  });

  it('unknown architecture or bad options → UserError naming the choices', () => {
    expect(() => buildModel('resnet-50')).toThrow(/unknown architecture 'resnet-50': choose one of mobile-s, cnn-s, teacher-l, unet-s/);
    expect(() => buildModel('resnet-50')).toThrow(UserError);
    expect(() => buildModel('mobile-s', { numClasses: 0 })).toThrow(UserError);
    expect(() => buildModel('mobile-s', { widthMultiplier: -1 })).toThrow(UserError);
  });

  it.each(ARCHS)('%s: one seed gives the same weights, another seed different ones', (arch) => {
    const a = getNamedWeights(buildModel(arch, { inputSize: 16, seed: 7 }));
    const b = getNamedWeights(buildModel(arch, { inputSize: 16, seed: 7 }));
    const c = getNamedWeights(buildModel(arch, { inputSize: 16, seed: 8 }));
    expect(a.map((t) => t.name)).toEqual(b.map((t) => t.name));
    a.forEach((t, i) => expect(t.data).toEqual(b[i].data));
    expect(a[0].data).not.toEqual(c[0].data);
  });
});

describe('named weights', () => {
  it('lists weights in model.weights order with saved names, BN moving statistics included', () => {
    buildModel('mobile-s'); // a second model in the process must not rename weights
    const named = getNamedWeights(buildModel('mobile-s'));
    expect(named[0]).toMatchObject({ name: 'stem/conv/kernel', shape: [3, 3, 1, 16], dtype: 'float32' });
    expect(named.map((t) => t.name)).toContain('block3/pw_bn/moving_variance');
    expect(named.length).toBe(buildModel('mobile-s').weights.length);
  });

  it('setNamedWeights copies weights from one model into another', () => {
    const src = buildModel('cnn-s', { inputSize: 16, seed: 1 });
    const dst = buildModel('cnn-s', { inputSize: 16, seed: 2 });
    setNamedWeights(dst, [...getNamedWeights(src)].reverse());
    const x = tf.randomNormal([2, 16, 16, 1], 0, 1, 'float32', 3);
    expect((dst.predict(x) as tf.Tensor).dataSync()).toEqual((src.predict(x) as tf.Tensor).dataSync());
  });

  it('throws on a missing, unknown or mis-shaped weight and leaves the model unchanged', () => {
    const m = buildModel('mobile-s', { inputSize: 16 });
    const w = getNamedWeights(m);
    expect(() => setNamedWeights(m, w.slice(1))).toThrow(/stem\/conv\/kernel.*missing/);
    expect(() => setNamedWeights(m, [...w, { ...w[0], name: 'nope/kernel' }])).toThrow(/nope\/kernel/);
    const bad = w.map((t, i) => (i === 0 ? { ...t, shape: [3, 3, 16, 1], data: new Float32Array(144).fill(9) } : t));
    expect(() => setNamedWeights(m, bad)).toThrow(/shape \[3,3,16,1\] does not match/);
    expect(getNamedWeights(m)[0].data).toEqual(w[0].data);
  });
});
