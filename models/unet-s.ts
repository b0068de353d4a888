import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { LayerFactory, modelInput, type ModelOptions } from './factory.ts';

/** Encoder widths of unet-s, one per resolution; the last is the bottleneck. */
const LEVELS = [16, 32, 64] as const;

/** Two conv-BN-ReLU layers, `P/a` and `P/b`. */
function doubleConv(f: LayerFactory, x: tf.SymbolicTensor, p: string, channels: number): tf.SymbolicTensor {
  return f.convBnRelu(f.convBnRelu(x, `${p}/a`, channels), `${p}/b`, channels);
}

/**
 * `unet-s`: a small U-Net (Ronneberger et al. 2015, "U-Net", arXiv:1505.04597) for
 * segmentation masks. Encoder `enc1`, `enc2` (double conv, then 2×2 max pool `poolK`),
 * bottleneck `mid`; decoder `decK`: nearest 2× upsampling `decK/up`, concatenation with the
 * encoder's skip `decK/concat`, double conv. A 1×1 conv `head/mask` returns one channel of
 * mask logits at the input resolution ([N, H, W, 1]). The input size must be divisible by 4.
 */
export function buildUnetS(opts: ModelOptions): tf.LayersModel {
  const levels = LEVELS.length - 1;
  if (opts.inputSize % 2 ** levels !== 0) throw new UserError(`unet-s needs an input size divisible by ${2 ** levels}, got ${opts.inputSize}`);
  const f = new LayerFactory(opts.seed, opts.widthMultiplier);
  const input = modelInput(opts);
  const skips: tf.SymbolicTensor[] = [];
  let x = input;
  for (let i = 0; i < levels; i++) {
    x = doubleConv(f, x, `enc${i + 1}`, f.width(LEVELS[i]));
    skips.push(x);
    x = f.maxPool(x, `pool${i + 1}`);
  }
  x = doubleConv(f, x, 'mid', f.width(LEVELS[levels]));
  for (let i = levels - 1; i >= 0; i--) {
    const p = `dec${i + 1}`;
    const up = tf.layers.upSampling2d({ name: `${p}/up`, size: [2, 2], interpolation: 'nearest' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ name: `${p}/concat`, axis: -1 }).apply([up, skips[i]]) as tf.SymbolicTensor;
    x = doubleConv(f, x, p, f.width(LEVELS[i]));
  }
  const mask = f.conv(x, 'head/mask', 1, 1, 1, true);
  return tf.model({ name: 'unet-s', inputs: input, outputs: mask });
}
