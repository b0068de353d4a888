import * as tf from '@tensorflow/tfjs';
import { overrideLayerCall, type LayerCallOverride } from './layer-call.ts';
import { BATCH_NORM_TRAIN } from './kernels/BatchNormTrain.ts';

/** The fields of tf.layers' BatchNormalization that its training step reads (private in its typings). */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

let override: LayerCallOverride | undefined;

function fusedFits(layer: BatchNormLayer, input: tf.Tensor, kwargs: Record<string, unknown>): boolean {
  const lastAxis = layer.axis === -1 || layer.axis === input.rank - 1;
  return kwargs.training === true && lastAxis && input.rank >= 2 && input.dtype === 'float32' && layer.gamma !== null && layer.beta !== null &&
    tf.getKernel(BATCH_NORM_TRAIN, tf.getBackend()) !== undefined;
}

/**
 * One training step of a BatchNormalization layer with fedkd's fused kernel: the same
 * values as tf.layers' own (batch statistics, biased variance, moving averages
 * m ← m − (m − mean)·(1 − momentum)), in one kernel forward and one backward.
 */
function fusedTrainingCall(layer: BatchNormLayer, input: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inputs = {
      x: input,
      scale: layer.gamma!.read(),
      offset: layer.beta!.read(),
      movingMean: layer.movingMean.read(),
      movingVariance: layer.movingVariance.read(),
    };
    const attrs = { varianceEpsilon: layer.epsilon, decay: 1 - layer.momentum };
    const [y, , , movingMean, movingVariance] = tf.engine().runKernel(BATCH_NORM_TRAIN, inputs, attrs) as tf.Tensor[];
    layer.movingMean.write(movingMean);
    layer.movingVariance.write(movingVariance);
    return y;
  });
}

/**
 * Makes tf.layers' BatchNormalization train through BATCH_NORM_TRAIN where the current
 * backend has it and the layer normalises its last axis with scale and offset (every BN of
 * fedkd's models); elsewhere, and in inference, tf.layers' own code runs. The layer class is
 * not exported by tfjs, so its prototype's `call` is wrapped; models and saved files are
 * unchanged. Idempotent.
 */
export function registerFusedBatchNormLayer(): void {
  if (override) return;
  override = overrideLayerCall<BatchNormLayer>(tf.layers.batchNormalization({}), { fits: fusedFits, call: fusedTrainingCall });
}

/** Runs `f` with tf.layers' own BatchNormalization training code (for comparisons in tests). */
export function withStockBatchNormLayer<T>(f: () => T): T {
  return override ? override.withStock(f) : f();
}
