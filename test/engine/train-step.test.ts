import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKENDS, REL_TOL, onBackend, relError, seeded, withoutSimd } from './compare.ts';

const L = tf.layers;
type Sym = tf.SymbolicTensor;

/** A small depthwise-separable classifier: conv s2, BN, ReLU, then two dw/pw blocks, GAP, dense. */
function separableNet(size: number, classes: number): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 1] });
  const bnRelu = (t: Sym): Sym => L.reLU().apply(L.batchNormalization().apply(t)) as Sym;
  let x = bnRelu(L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(input) as Sym);
  for (const [c, s] of [[16, 2], [16, 1]]) {
    x = bnRelu(L.depthwiseConv2d({ kernelSize: 3, strides: s, padding: 'same', useBias: false }).apply(x) as Sym);
    x = bnRelu(L.conv2d({ filters: c, kernelSize: 1, useBias: false }).apply(x) as Sym);
  }
  const logits = L.dense({ units: classes }).apply(L.globalAveragePooling2d({}).apply(x)) as Sym;
  return tf.model({ inputs: input, outputs: logits });
}

/** An encoder-decoder with the ops unet-style models add: max pool, transposed conv, upsampling, concat. */
function encoderDecoder(size: number): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 1] });
  const e1 = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as Sym;
  const e2 = L.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(L.maxPooling2d({ poolSize: 2 }).apply(e1)) as Sym;
  const up1 = L.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }).apply(e2) as Sym;
  const up2 = L.upSampling2d({ size: [2, 2] }).apply(e2) as Sym;
  const merged = L.concatenate().apply([up1, up2, e1]) as Sym;
  const out = L.conv2d({ filters: 1, kernelSize: 1 }).apply(merged) as Sym;
  return tf.model({ inputs: input, outputs: out });
}

interface StepResult {
  loss: number;
  grads: Float32Array[];
  after: Float32Array[];
}

/** One Adam step in training mode (batch statistics in BN) from the given weights. */
function adamStep(model: tf.LayersModel, init: Float32Array[], x: tf.Tensor, loss: (out: tf.Tensor) => tf.Scalar): StepResult {
  model.setWeights(model.weights.map((w, i) => tf.tensor(init[i], w.shape as number[])));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = tf.train.adam(0.01);
  const { value, grads } = tf.variableGrads(() => loss(model.apply(x, { training: true }) as tf.Tensor), vars);
  const gradList = vars.map((v) => grads[v.name].dataSync() as Float32Array);
  opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
  return { loss: value.dataSync()[0], grads: gradList, after: model.getWeights().map((w) => w.dataSync() as Float32Array) };
}

/** Runs the same step on every backend and checks wasm against cpu. */
async function compareStep(build: () => tf.LayersModel, inputShape: number[], target: (n: number) => tf.Tensor, lossOf: (y: tf.Tensor, out: tf.Tensor) => tf.Scalar): Promise<StepResult> {
  // Seeded weights (tf.layers' initialisers are unseeded): Adam's first step is ±lr wherever a
  // gradient is not ~0, so a random draw with one near-zero gradient entry could flip its sign
  // between backends; a fixed draw makes the comparison the same on every run. Constant
  // tensors (BN γ/β and moving statistics, biases) keep their initial values.
  const init = await onBackend('cpu', () =>
    build()
      .getWeights()
      .map((w, i) => {
        const v = w.dataSync() as Float32Array;
        return v.every((x) => x === v[0]) ? v : seeded(w.shape as number[], 100 + i).map((x) => 0.3 * x);
      }),
  );
  const xData = seeded(inputShape, 11);
  const results: Record<string, StepResult> = {};
  for (const b of BACKENDS) {
    results[b] = await onBackend(b, () => {
      const model = build();
      const x = tf.tensor(xData, inputShape);
      const y = target(inputShape[0]);
      return adamStep(model, init, x, (out) => lossOf(y, out));
    });
  }
  const { cpu, wasm } = results;
  expect(Number.isFinite(cpu.loss)).toBe(true);
  expect(Math.abs(wasm.loss - cpu.loss) / Math.abs(cpu.loss)).toBeLessThan(REL_TOL);
  expect(wasm.grads.length).toBe(cpu.grads.length);
  cpu.grads.forEach((g, i) => expect(relError(wasm.grads[i], g), `gradient ${i}`).toBeLessThan(REL_TOL));
  cpu.after.forEach((w, i) => expect(relError(wasm.after[i], w), `weight ${i} after the step`).toBeLessThan(REL_TOL));
  // The step must have moved every trainable weight (a no-op optimiser would pass the comparisons).
  cpu.grads.forEach((g) => expect(g.some((v) => v !== 0)).toBe(true));
  return cpu;
}

describe('one training step, wasm against cpu', () => {
  it('depthwise-separable classifier (Adam, softmax cross-entropy, BN in training mode)', async () => {
    const labels = (n: number): tf.Tensor => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3);
    await compareStep(() => separableNet(16, 3), [6, 16, 16, 1], labels, (y, out) => tf.losses.softmaxCrossEntropy(y, out));
  });

  it('depthwise-separable classifier with the SIMD kernels off (the JS kernels on the wasm heap)', async () => {
    const labels = (n: number): tf.Tensor => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i + 1) % 3), 'int32'), 3);
    await withoutSimd(() => compareStep(() => separableNet(16, 3), [4, 16, 16, 1], labels, (y, out) => tf.losses.softmaxCrossEntropy(y, out)));
  });

  it('encoder-decoder (max pool, conv2dTranspose, upsampling, concat; sigmoid cross-entropy)', async () => {
    const masks = (n: number): tf.Tensor => tf.tensor(seeded([n, 12, 12, 1], 12).map((v) => (v > 0 ? 1 : 0)), [n, 12, 12, 1]);
    await compareStep(() => encoderDecoder(12), [3, 12, 12, 1], masks, (y, out) => tf.losses.sigmoidCrossEntropy(y, out));
  });
});
