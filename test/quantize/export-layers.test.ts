import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { verifyExport } from '../../quantize/export/verify.ts';
import { decodeOnnx, maxAbsDiff, perturbWeights } from './compare.ts';

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend('cpu');
});

type Build = (x: tf.SymbolicTensor) => tf.SymbolicTensor;
const L = tf.layers;
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

/** Small functional models, each exercising converters the reference models do not reach. */
const CASES: [string, [number, number, number], Build][] = [
  [
    'Conv2DTranspose (same, valid, kernel < stride) with folded BN and bias',
    [7, 7, 3],
    (x) => {
      const a = apply(L.batchNormalization({ name: 'a/bn' }), apply(L.conv2dTranspose({ name: 'a/up', filters: 4, kernelSize: 3, strides: 2, padding: 'same' }), x));
      const b = apply(L.conv2dTranspose({ name: 'b/up', filters: 5, kernelSize: 2, strides: 2, padding: 'valid', activation: 'relu' }), x);
      const c = apply(L.conv2dTranspose({ name: 'c/up', filters: 2, kernelSize: 1, strides: 2, padding: 'valid' }), x);
      return apply(L.concatenate({ name: 'cat', axis: 3 }), [a, b, c]);
    },
  ],
  [
    'odd sizes with stride 2 "same" padding, ReLU6 activation, average pooling, zero padding, dilation',
    [15, 13, 2],
    (x) => {
      let y = apply(L.conv2d({ name: 'c1', filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }), x);
      y = apply(L.averagePooling2d({ name: 'avg', poolSize: 3, strides: 2, padding: 'same' }), y);
      y = apply(L.maxPooling2d({ name: 'max', poolSize: 2, strides: 1, padding: 'same' }), y);
      y = apply(L.zeroPadding2d({ name: 'pad', padding: [[1, 2], [0, 1]] }), y);
      y = apply(L.conv2d({ name: 'c2', filters: 3, kernelSize: [5, 3], padding: 'valid' }), y);
      return apply(L.conv2d({ name: 'dilated', filters: 2, kernelSize: 3, padding: 'same', dilationRate: 2 }), y);
    },
  ],
  [
    'zero padding before a max pool (not fused by ORT into the pool, zeros beat negative values)',
    [6, 6, 2],
    (x) => {
      const y = apply(L.zeroPadding2d({ name: 'pad', padding: [[2, 2], [2, 2]] }), x);
      return apply(L.maxPooling2d({ name: 'max', poolSize: 2, strides: 2, padding: 'valid' }), y);
    },
  ],
  [
    'separable conv + BN, standalone BN after Add, LeakyReLU, bilinear upsampling',
    [8, 8, 3],
    (x) => {
      const s = apply(L.batchNormalization({ name: 'sep/bn' }), apply(L.separableConv2d({ name: 'sep', filters: 3, kernelSize: 3, padding: 'same', depthMultiplier: 2 }), x));
      const sum = apply(L.add({ name: 'sum' }), [s, x, x]);
      const bn = apply(L.batchNormalization({ name: 'after_add/bn' }), sum);
      const act = apply(L.leakyReLU({ name: 'leaky', alpha: 0.1 }), bn);
      return apply(L.upSampling2d({ name: 'up', size: [2, 3], interpolation: 'bilinear' }), act);
    },
  ],
  [
    'Flatten of an image, Dense + BN folded into Gemm, softmax, dropout as the output',
    [6, 5, 3],
    (x) => {
      let y = apply(L.conv2d({ name: 'c', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }), x);
      y = apply(L.flatten({ name: 'flat' }), y);
      y = apply(L.batchNormalization({ name: 'fc/bn' }), apply(L.dense({ name: 'fc', units: 7 }), y));
      y = apply(L.dense({ name: 'out', units: 5, activation: 'softmax' }), apply(L.activation({ name: 'sig', activation: 'sigmoid' }), y));
      return apply(L.dropout({ name: 'drop', rate: 0.5 }), y);
    },
  ],
  [
    'depthwise multiplier 2, global max pool, multiply / average / maximum merges',
    [9, 9, 2],
    (x) => {
      const d = apply(L.depthwiseConv2d({ name: 'dw', kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: true }), x);
      const e = apply(L.conv2d({ name: 'pw', filters: 4, kernelSize: 1 }), x);
      const m = apply(L.multiply({ name: 'mul' }), [d, e]);
      const a = apply(L.average({ name: 'avg' }), [m, d, e]);
      const mx = apply(L.maximum({ name: 'max' }), [a, e]);
      return apply(L.globalMaxPooling2d({ name: 'gmp' }), apply(L.elu({ name: 'elu' }), mx));
    },
  ],
];

describe('export of individual layer kinds', () => {
  it.each(CASES)('%s: ONNX Runtime matches tfjs', async (_label, shape, build) => {
    const input = tf.input({ name: 'input', shape });
    const model = tf.model({ name: 'case', inputs: input, outputs: build(input) });
    perturbWeights(model, 31);
    const x = tf.randomNormal([2, ...shape], 0, 1, 'float32', 4) as tf.Tensor4D;
    const { diff, dims, scale } = await maxAbsDiff(model, exportOnnx(model), x);
    const out = model.outputs[0].shape;
    expect(dims).toEqual(out.length === 4 ? [2, out[3], out[1], out[2]] : [2, out[1]]);
    expect(scale).toBeGreaterThan(0.01);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('folds a BN into the transposed conv and the dense layer, keeps the one after Add as Mul/Add', () => {
    const input = tf.input({ name: 'input', shape: [8, 8, 3] });
    const build = CASES.find(([label]) => label.startsWith('separable conv'))![2];
    const model = tf.model({ inputs: input, outputs: build(input) });
    const ops = decodeOnnx(exportOnnx(model)).nodes.map((n) => n.opType);
    expect(ops).toEqual(['Conv', 'Conv', 'Add', 'Add', 'Mul', 'Add', 'LeakyRelu', 'Resize']);
  });

  it('a sub-model (the unet-s encoder) exports with its feature map as NCHW output', async () => {
    const unet = buildModel('unet-s', { inputSize: 16, seed: 4 });
    perturbWeights(unet, 9);
    const encoder = tf.model({ name: 'encoder', inputs: unet.inputs, outputs: unet.getLayer('mid/b/relu').output as tf.SymbolicTensor });
    const x = tf.randomNormal([2, 16, 16, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const { diff, dims, scale } = await maxAbsDiff(encoder, exportOnnx(encoder), x);
    expect(dims).toEqual([2, 64, 4, 4]);
    expect(scale).toBeGreaterThan(0.01);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('an unsupported layer is a UserError naming the layer and its class', () => {
    const input = tf.input({ name: 'input', shape: [4, 4, 2] });
    const y = apply(L.reshape({ name: 'to_rows', targetShape: [16, 2] }), input);
    const model = tf.model({ inputs: input, outputs: apply(L.flatten({ name: 'flat' }), y) });
    expect(() => exportOnnx(model)).toThrow(UserError);
    expect(() => exportOnnx(model)).toThrow(/layer 'to_rows' \(class Reshape\)/);
  });
});

describe('verifyExport', () => {
  it('passes a faithful export and catches a wrong one', async () => {
    const model = buildModel('mobile-s', { inputSize: 16, seed: 3 });
    perturbWeights(model, 5);
    const good = await verifyExport(model, exportOnnx(model));
    expect(good.ok).toBe(true);
    expect(good.maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    const other = buildModel('mobile-s', { inputSize: 16, seed: 4 });
    perturbWeights(other, 6);
    const bad = await verifyExport(model, exportOnnx(other));
    expect(bad.ok).toBe(false);
    expect(bad.maxAbsDiff).toBeGreaterThan(1e-3);
  });
});
