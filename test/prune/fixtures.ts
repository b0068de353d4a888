import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';

/**
 * A small functional model with every structure pruning must follow: conv-BN-ReLU stem,
 * depthwise-separable block, a residual Add, a Concatenate of two branches, a max-pool,
 * a flatten into a dense hidden layer and a dense head.
 */
export function buildToyNet(opts: { size?: number; channels?: number; classes?: number; flatten?: boolean } = {}): tf.LayersModel {
  const size = opts.size ?? 12;
  const L = tf.layers;
  const input = tf.input({ shape: [size, size, opts.channels ?? 3], name: 'image' });
  let x = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem/conv' }).apply(input) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'stem/bn' }).apply(x) as tf.SymbolicTensor;
  x = L.reLU({ name: 'stem/relu' }).apply(x) as tf.SymbolicTensor;
  x = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'b1/dw' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'b1/dw_bn' }).apply(x) as tf.SymbolicTensor;
  x = L.activation({ activation: 'relu', name: 'b1/dw_relu' }).apply(x) as tf.SymbolicTensor;
  x = L.conv2d({ filters: 12, kernelSize: 1, useBias: false, name: 'b1/pw' }).apply(x) as tf.SymbolicTensor;
  x = L.batchNormalization({ name: 'b1/pw_bn' }).apply(x) as tf.SymbolicTensor;
  const a = L.reLU({ name: 'b1/pw_relu' }).apply(x) as tf.SymbolicTensor;
  let r = L.conv2d({ filters: 12, kernelSize: 3, padding: 'same', name: 'res/conv', activation: 'relu' }).apply(a) as tf.SymbolicTensor;
  r = L.batchNormalization({ name: 'res/bn' }).apply(r) as tf.SymbolicTensor;
  const sum = L.add({ name: 'res/add' }).apply([a, r]) as tf.SymbolicTensor;
  const side = L.conv2d({ filters: 6, kernelSize: 1, name: 'side/conv' }).apply(a) as tf.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([sum, side]) as tf.SymbolicTensor;
  let y = L.conv2d({ filters: 10, kernelSize: 3, padding: 'same', name: 'mix/conv' }).apply(cat) as tf.SymbolicTensor;
  y = L.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(y) as tf.SymbolicTensor;
  y = (opts.flatten ?? true ? L.flatten({ name: 'flat' }) : L.globalAveragePooling2d({ name: 'gap' })).apply(y) as tf.SymbolicTensor;
  y = L.dense({ units: 16, activation: 'relu', name: 'fc1' }).apply(y) as tf.SymbolicTensor;
  const out = L.dense({ units: opts.classes ?? 3, name: 'head' }).apply(y) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'toynet' });
}

/** Gives every weight seeded random values (BN variances positive) so pruning sees distinct channels. */
export function randomizeWeights(model: tf.LayersModel, seed: number, scale = 0.3): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    const data = Float32Array.from({ length: n }, () =>
      role === 'moving_variance' ? rng.uniform(0.5, 2) : role === 'gamma' ? rng.uniform(0.1, 1.5) : rng.normal() * scale,
    );
    w.write(tf.tensor(data, w.shape as number[]));
  }
}

/** Seeded random input batch. */
export function randomInput(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal()), shape);
}

/** Non-trivial BN statistics and affine parameters (γ, β, moving mean/variance), other weights as built. */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const role = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    const range = { gamma: [0.5, 1.5], beta: [-0.2, 0.2], moving_mean: [-0.2, 0.2], moving_variance: [0.5, 2] }[role];
    if (!range) continue;
    const n = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    w.write(tf.tensor(Float32Array.from({ length: n }, () => rng.uniform(range[0], range[1])), w.shape as number[]));
  }
}

/** Largest |a − b| of two model outputs. */
export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Values of a layer's weight (by index) as a flat array with its shape. */
export function weightValues(model: tf.LayersModel, layer: string, index = 0): { data: Float32Array; shape: number[] } {
  const w = model.getLayer(layer).weights[index];
  return { data: w.read().dataSync() as Float32Array, shape: w.shape as number[] };
}
