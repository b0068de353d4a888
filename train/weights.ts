import type * as tf from '@tensorflow/tfjs';

/** The trainable variables of a model, in order, for gradient computation. */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}
