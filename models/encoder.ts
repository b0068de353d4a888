import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';

/** The layer whose output is unet-s's bottleneck: the end of its encoder half. */
export const UNET_ENCODER_OUTPUT = 'mid/b/relu';

/**
 * The encoder half of a segmentation network as its own model: the same input, the output of
 * layer `outputLayer` (unet-s: the bottleneck, [N, S/4, S/4, 64]), sharing the trained weights.
 * An unknown layer is a UserError.
 */
export function encoderOf(model: tf.LayersModel, outputLayer = UNET_ENCODER_OUTPUT): tf.LayersModel {
  let layer: tf.layers.Layer;
  try {
    layer = model.getLayer(outputLayer);
  } catch {
    throw new UserError(`model '${model.name}' has no layer '${outputLayer}' to end the encoder at`);
  }
  return tf.model({ name: `${model.name}-encoder`, inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}
