import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { LayerFactory } from './factory.ts';

/** Input names of the mask decoder. */
export const DECODER_EMBEDDING_INPUT = 'embedding';
export const DECODER_BOX_INPUT = 'box';

/**
 * The box prior's initial logits: +2 inside the box, −6 outside (p ≈ 0.88 / 0.0025), so an
 * untrained decoder already predicts the box, and the background's cross-entropy, already
 * small, does not drag the foreground down in the first steps: few shots refine the box
 * rather than first escaping an all-background solution.
 */
export const BOX_PRIOR_INSIDE = 2;
export const BOX_PRIOR_OUTSIDE = -6;

/** Shape and size of a mask decoder. */
export interface MaskDecoderOptions {
  /** Height = width of the embedding map. */
  embedSize: number;
  /** Channels of the embedding map. */
  embedChannels: number;
  /** Side of the square image the mask logits are made for; `embedSize` times a power of two. */
  imageSize: number;
  /** Channels of the first decoder stage (halved at every 2× upsampling, at least 8). Default 32. */
  width?: number;
  /** Seed of the initial weights. Default 42. */
  seed?: number;
}

/** The number of 2× upsampling stages from the embedding to the image side; a ratio that is no power of two is a UserError. */
export function decoderStages(o: MaskDecoderOptions): number {
  const ratio = o.imageSize / o.embedSize;
  const stages = Math.log2(ratio);
  if (!Number.isInteger(stages) || stages < 0) throw new UserError(`the image size ${o.imageSize} must be the embedding size ${o.embedSize} times a power of two`);
  return stages;
}

/** conv k×k (with bias) → ReLU, named `P/conv`, `P/relu`. */
function convRelu(f: LayerFactory, x: tf.SymbolicTensor, p: string, filters: number, kernelSize = 3): tf.SymbolicTensor {
  return f.relu(f.conv(x, `${p}/conv`, filters, kernelSize, 1, true), `${p}/relu`);
}

/** The box prompt averaged down to `side`×`side` (its coverage of each cell). */
function boxAt(box: tf.SymbolicTensor, imageSize: number, side: number, name: string): tf.SymbolicTensor {
  if (side === imageSize) return box;
  const k = imageSize / side;
  return tf.layers.averagePooling2d({ name, poolSize: k, strides: k, padding: 'valid' }).apply(box) as tf.SymbolicTensor;
}

/**
 * A small promptable mask decoder in the spirit of SAM's (Kirillov et al. 2023, "Segment
 * Anything", arXiv:2304.02643) as MedSAM fine-tunes it (Ma et al. 2024, Nat. Commun. 15:654),
 * without attention: inputs `embedding` [N, h, h, C] (a frozen encoder's map) and `box`
 * [N, S, S, 1] (the bounding-box prompt rasterised at image resolution, 1 inside). The box,
 * averaged down to each resolution, is concatenated to the features of every stage: a 1×1
 * conv-ReLU "neck" cutting the embedding's channels to `width` (as SAM's neck does) and a 3×3
 * conv-ReLU at h, then per 2× upsampling (bilinear) one concat + conv-ReLU, and a 1×1
 * conv `dec/head` (zero at start, as a "zero convolution"), plus a learnt 1×1 "box prior"
 * `dec/box-prior` on the full-resolution box (initially the box itself, see BOX_PRIOR_INSIDE),
 * gives mask logits [N, S, S, 1]: the untrained decoder predicts the filled box. No batch
 * norm, so batch size 1 trains alike.
 */
export function buildMaskDecoder(o: MaskDecoderOptions): tf.LayersModel {
  const stages = decoderStages(o);
  const f = new LayerFactory(o.seed ?? 42, 1);
  const width = o.width ?? 32;
  const embedding = tf.input({ name: DECODER_EMBEDDING_INPUT, shape: [o.embedSize, o.embedSize, o.embedChannels] });
  const box = tf.input({ name: DECODER_BOX_INPUT, shape: [o.imageSize, o.imageSize, 1] });
  let side = o.embedSize;
  let x = tf.layers.concatenate({ name: 'dec/in/concat', axis: -1 }).apply([embedding, boxAt(box, o.imageSize, side, 'dec/in/box')]) as tf.SymbolicTensor;
  x = convRelu(f, convRelu(f, x, 'dec/in/a', width, 1), 'dec/in/b', width);
  for (let s = 1; s <= stages; s++) {
    side *= 2;
    const p = `dec/up${s}`;
    const up = tf.layers.upSampling2d({ name: `${p}/up`, size: [2, 2], interpolation: 'bilinear' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ name: `${p}/concat`, axis: -1 }).apply([up, boxAt(box, o.imageSize, side, `${p}/box`)]) as tf.SymbolicTensor;
    x = convRelu(f, x, p, Math.max(8, width >> s));
  }
  const prior = tf.layers
    .conv2d({ name: 'dec/box-prior', filters: 1, kernelSize: 1, useBias: true, kernelInitializer: tf.initializers.constant({ value: BOX_PRIOR_INSIDE - BOX_PRIOR_OUTSIDE }), biasInitializer: tf.initializers.constant({ value: BOX_PRIOR_OUTSIDE }) })
    .apply(box) as tf.SymbolicTensor;
  const head = tf.layers.conv2d({ name: 'dec/head', filters: 1, kernelSize: 1, useBias: true, kernelInitializer: 'zeros', biasInitializer: 'zeros' }).apply(x) as tf.SymbolicTensor;
  const logits = tf.layers.add({ name: 'dec/logits' }).apply([head, prior]) as tf.SymbolicTensor;
  return tf.model({ name: 'mask-decoder', inputs: [embedding, box], outputs: logits });
}
