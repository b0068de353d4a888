import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../core/rng.ts';
import type { ImageSet } from '../../train/types.ts';

/**
 * A tiny two-class image set: noise, plus a bright 3×3 square in class-1 images (whose
 * mask marks the square). Learnable in a few epochs by a tiny CNN.
 */
export function blobSet(n: number, size: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const x = new Float32Array(n * size * size);
  const masks = new Float32Array(n * size * size);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < size * size; p++) x[i * size * size + p] = rng.normal() * 0.3;
    if (labels[i]) {
      const y0 = rng.int(size - 2);
      const x0 = rng.int(size - 2);
      for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
        x[i * size * size + (y0 + dy) * size + x0 + dx] += 1.5;
        masks[i * size * size + (y0 + dy) * size + x0 + dx] = 1;
      }
    }
  }
  return { n, size, channels: 1, x, labels, masks };
}

/** A tiny seeded functional classifier: conv 3×3 (4) → BN → ReLU → global max pool → dense (2 logits). */
export function tinyClassifier(size: number, seed = 1): tf.LayersModel {
  const input = tf.input({ shape: [size, size, 1], name: 'input' });
  let h = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv1', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ name: 'bn1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ name: 'relu1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalMaxPooling2d({ name: 'pool' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'fc', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** A tiny seeded segmenter: two 3×3 convolutions to one mask-logit channel. */
export function tinySegmenter(size: number, seed = 1): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [size, size, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'sconv1', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.conv2d({ filters: 1, kernelSize: 3, padding: 'same', name: 'sconv2', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}
