import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { ModelOptions } from './factory.ts';
import { buildUnetL, UNET_L_ENCODER_OUTPUT } from './unet-l.ts';
import { buildUnetS } from './unet-s.ts';

/** The layer whose output is unet-s's bottleneck: the end of its encoder half. */
export const UNET_ENCODER_OUTPUT = 'mid/b/relu';

/** The segmentation networks whose encoder half can feed the mask decoder; the first is the default teacher. */
export const SEGMENTERS = ['unet-l', 'unet-s'] as const;
/** A segmentation network's name. */
export type SegmenterArch = (typeof SEGMENTERS)[number];

/** How to build each segmentation network, where its encoder half ends, and what it is for (help texts). */
export const SEGMENTER_SPECS: Record<SegmenterArch, { build: (o: ModelOptions) => tf.LayersModel; encoderOutput: string; description: string }> = {
  'unet-l': {
    build: buildUnetL,
    encoderOutput: UNET_L_ENCODER_OUTPUT,
    description: 'the demo teacher: 1.2M-parameter residual encoder, [S/4, S/4, 128] standardised embeddings, light decoder half',
  },
  'unet-s': { build: buildUnetS, encoderOutput: UNET_ENCODER_OUTPUT, description: 'small U-Net: 72k-parameter encoder, [S/4, S/4, 64] embeddings; for quick runs and tests' },
};

/**
 * The encoder half of a segmentation network as its own model: the same input, the output of
 * layer `outputLayer` (by default the end of the encoder of the network named `model.name`:
 * unet-l's neck, [N, S/4, S/4, 128]; unet-s's bottleneck, [N, S/4, S/4, 64]), sharing
 * the trained weights. An unknown layer is a UserError.
 */
export function encoderOf(model: tf.LayersModel, outputLayer = (SEGMENTER_SPECS as Record<string, { encoderOutput: string } | undefined>)[model.name]?.encoderOutput ?? UNET_ENCODER_OUTPUT): tf.LayersModel {
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(outputLayer);
  } catch {
    throw new UserError(`model '${model.name}' has no layer '${outputLayer}' to end the encoder at`);
  }
  return tf.model({ name: `${model.name}-encoder`, inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}
