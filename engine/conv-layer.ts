import * as tf from '@tensorflow/tfjs';
import { overrideLayerCall, type LayerCallOverride } from './layer-call.ts';

/** The fields of tf.layers' Conv2D that its call reads (private in its typings). */
interface Conv2DLayer {
  rank: number;
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  activation: { getClassName(): string };
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
}

let override: LayerCallOverride | undefined;

function plainFits(layer: Conv2DLayer, input: tf.Tensor): boolean {
  return layer.rank === 2 && layer.bias == null && layer.activation.getClassName() === 'linear' && layer.dataFormat === 'channelsLast' &&
    (layer.padding === 'same' || layer.padding === 'valid') && input.rank === 4;
}

/** tf.layers' Conv2D call as plain tf.conv2d (no bias, linear activation: plainFits). */
function plainCall(layer: Conv2DLayer, input: tf.Tensor): tf.Tensor {
  const dilations = layer.dilationRate as [number, number] | number;
  return tf.tidy(() =>
    tf.conv2d(input as tf.Tensor4D, layer.kernel.read() as tf.Tensor4D, layer.strides as [number, number], layer.padding as 'same' | 'valid', 'NHWC', dilations),
  );
}

/**
 * Makes tf.layers' Conv2D without bias and activation (every conv that feeds batch norm)
 * run as tf.conv2d instead of tf.fused.conv2d. The values are the same; the difference is
 * the gradient: the fused op's custom gradient always computes the input gradient, even of
 * the model's input image (a full col2im over the largest activation each step), where
 * Conv2D's registered gradient is evaluated only for inputs that need one. Other Conv2D
 * layers run tf.layers' own code. Idempotent.
 */
export function registerPlainConvLayer(): void {
  if (override) return;
  override = overrideLayerCall<Conv2DLayer>(tf.layers.conv2d({ filters: 1, kernelSize: 1 }), { fits: plainFits, call: plainCall });
}

/** Runs `f` with tf.layers' own Conv2D call (for comparisons in tests). */
export function withStockConvLayer<T>(f: () => T): T {
  return override ? override.withStock(f) : f();
}
