import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { LayerFactory, modelInput, type ModelOptions } from './factory.ts';

/** Channels of unet-l's two full- and half-resolution encoder stages. */
const STEM = [32, 64] as const;
/** Channels of the residual body at a quarter of the input side; its output is the embedding. */
export const UNET_L_EMBED_CHANNELS = 128;
/** Residual blocks of the body. */
export const UNET_L_BLOCKS = 4;
/** Channels of the light decoder half, at half and at full resolution. */
const DECODER = [32, 16] as const;
/** The layer whose output is unet-l's embedding map (the neck after the body), [N, S/4, S/4, 128]. */
export const UNET_L_ENCODER_OUTPUT = 'neck/bn';

/**
 * A basic residual block (He et al. 2016, "Deep Residual Learning", arXiv:1512.03385):
 * conv3×3-BN-ReLU, conv3×3-BN, plus the shortcut (identity, or conv1×1-BN when the channels
 * change), then ReLU. Layers `P/a`, `P/conv2`, `P/bn2`, `P/proj`, `P/proj_bn`, `P/add`, `P/relu`.
 */
function residualBlock(f: LayerFactory, x: tf.SymbolicTensor, p: string, channels: number): tf.SymbolicTensor {
  const y = f.bn(f.conv(f.convBnRelu(x, `${p}/a`, channels), `${p}/conv2`, channels, 3), `${p}/bn2`);
  const shortcut = x.shape[3] !== channels ? f.bn(f.conv(x, `${p}/proj`, channels, 1), `${p}/proj_bn`) : x;
  return f.relu(tf.layers.add({ name: `${p}/add` }).apply([y, shortcut]) as tf.SymbolicTensor, `${p}/relu`);
}

/** Two conv-BN-ReLU layers, `P/a` and `P/b`. */
function doubleConv(f: LayerFactory, x: tf.SymbolicTensor, p: string, channels: number): tf.SymbolicTensor {
  return f.convBnRelu(f.convBnRelu(x, `${p}/a`, channels), `${p}/b`, channels);
}

/** Nearest 2× upsampling of `x`, concatenated with the encoder's `skip`, then conv-BN-ReLU: `P/up`, `P/concat`, `P/a`. */
function upStage(f: LayerFactory, x: tf.SymbolicTensor, skip: tf.SymbolicTensor, p: string, channels: number): tf.SymbolicTensor {
  const up = tf.layers.upSampling2d({ name: `${p}/up`, size: [2, 2], interpolation: 'nearest' }).apply(x) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: `${p}/concat`, axis: -1 }).apply([up, skip]) as tf.SymbolicTensor;
  return f.convBnRelu(cat, `${p}/a`, channels);
}

/**
 * `unet-l`: the demo segmentation teacher, a U-Net (Ronneberger et al. 2015, arXiv:1505.04597)
 * whose weight and compute sit in its encoder, as in SAM/MedSAM's heavy-encoder, light-decoder
 * split (Kirillov et al. 2023, arXiv:2304.02643; Ma et al. 2024, Nat. Commun. 15:654): stem
 * `enc1` (double conv, 32 channels) and `enc2` (double conv, 64) each followed by 2×2 max
 * pooling, then a body of four residual blocks at 128 channels at a quarter of the input side
 * (`body/blockK`), a neck (`neck/conv` 1×1, `neck/bn`, no ReLU: SAM's neck ends in a norm too)
 * whose output is the embedding map (`UNET_L_ENCODER_OUTPUT`; per-channel standardised, so a
 * decoder trained on it sees unit-scale inputs, not the residual sums' growing ones), and a light
 * decoder half (`dec2`, `dec1`: nearest upsampling, skip concatenation, one conv-BN-ReLU of 32
 * and 16 channels) with a 1×1 conv `head/mask` giving one channel of mask logits [N, S, S, 1].
 * At width 1: 1.27M parameters, 1.20M of them in the encoder (about teacher-l's size, 60× the
 * default mask decoder), 480M multiply-adds per 64-px image. The input size must be divisible by 4.
 */
export function buildUnetL(opts: ModelOptions): tf.LayersModel {
  if (opts.inputSize % 4 !== 0) throw new UserError(`unet-l needs an input size divisible by 4, got ${opts.inputSize}`);
  const f = new LayerFactory(opts.seed, opts.widthMultiplier);
  const input = modelInput(opts);
  const enc1 = doubleConv(f, input, 'enc1', f.width(STEM[0]));
  const enc2 = doubleConv(f, f.maxPool(enc1, 'pool1'), 'enc2', f.width(STEM[1]));
  let x = f.maxPool(enc2, 'pool2');
  for (let b = 1; b <= UNET_L_BLOCKS; b++) x = residualBlock(f, x, `body/block${b}`, f.width(UNET_L_EMBED_CHANNELS));
  x = f.bn(f.conv(x, 'neck/conv', f.width(UNET_L_EMBED_CHANNELS), 1), 'neck/bn');
  x = upStage(f, x, enc2, 'dec2', f.width(DECODER[0]));
  x = upStage(f, x, enc1, 'dec1', f.width(DECODER[1]));
  const mask = f.conv(x, 'head/mask', 1, 1, 1, true);
  return tf.model({ name: 'unet-l', inputs: input, outputs: mask });
}
