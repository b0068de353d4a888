import * as tf from '@tensorflow/tfjs';
import { LayerFactory, modelInput, type ModelOptions } from './factory.ts';

/** The bounded activation of cnn-s: ReLU6 keeps activation ranges small for INT8 scales. */
const RELU_MAX = 6;

/** cnn-s stages: output channels and whether a 2×2 max pool follows. */
const STAGES: readonly (readonly [number, boolean])[] = [
  [16, false],
  [32, true],
  [32, false],
  [64, true],
  [64, false],
  [128, true],
];

/**
 * `cnn-s`: a plain 3×3-convolution student, friendly to INT8 (only dense 3×3 convs, folded BN,
 * ReLU6, max pooling; no depthwise layers, whose per-channel ranges quantise poorly; cf.
 * Sheng et al. 2018, "A Quantization-Friendly Separable Convolution for MobileNets").
 * Stem conv 3×3 stride 2 → 16; stages `convK` (conv-BN-ReLU6, then `poolK` where marked);
 * global average pool; dense logits.
 */
export function buildCnnS(opts: ModelOptions): tf.LayersModel {
  const f = new LayerFactory(opts.seed, opts.widthMultiplier);
  const input = modelInput(opts);
  let x = f.convBnRelu(input, 'stem', f.width(16), 3, 2, RELU_MAX);
  STAGES.forEach(([c, pool], i) => {
    x = f.convBnRelu(x, `conv${i + 1}`, f.width(c), 3, 1, RELU_MAX);
    if (pool) x = f.maxPool(x, `pool${i + 1}`);
  });
  const logits = f.dense(f.globalPool(x, 'head/pool'), 'head/logits', opts.numClasses);
  return tf.model({ name: 'cnn-s', inputs: input, outputs: logits });
}
