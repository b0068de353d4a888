import * as tf from '@tensorflow/tfjs';

/** Options every reference architecture takes (see docs/CONTRACTS.md, "Models"). */
export interface ModelOptions {
  /** Height and width of the square input image, in pixels. */
  inputSize: number;
  /** Channels of the input image (1 for grey-scale scans, 3 for RGB). */
  inputChannels: number;
  /** Logits the classifier returns (ignored by `unet-s`, which returns one mask channel). */
  numClasses: number;
  /** Scales every layer's channel count (1 = the reference width). */
  widthMultiplier: number;
  /** Seed for the weight initialisers: one seed gives the same weights on every backend. */
  seed: number;
}

/** The defaults used when an option is not given. */
export const DEFAULT_MODEL_OPTIONS: ModelOptions = { inputSize: 64, inputChannels: 1, numClasses: 2, widthMultiplier: 1, seed: 42 };

/** The smallest channel count a scaled layer keeps. */
const MIN_CHANNELS = 4;

/** Keras's BatchNormalization defaults, kept explicit so export reads the same numbers. */
const BN_MOMENTUM = 0.99;
const BN_EPSILON = 1e-3;

/** A seed derived from the model seed and a layer's name (FNV-1a), so adding a layer does not reseed the others. */
function layerSeed(seed: number, name: string): number {
  let h = 2166136261 ^ (seed >>> 0);
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h >>> 0) % 2147483647;
}

/**
 * Builds named layers with deterministic, seeded initialisers (He-normal for convolutions,
 * Glorot-uniform for dense layers) and applies them to symbolic tensors.
 */
export class LayerFactory {
  constructor(
    private readonly seed: number,
    private readonly widthMultiplier: number,
  ) {}

  /** A channel count scaled by the width multiplier. */
  width(channels: number): number {
    return Math.max(MIN_CHANNELS, Math.round(channels * this.widthMultiplier));
  }

  private he(name: string): ReturnType<typeof tf.initializers.heNormal> {
    return tf.initializers.heNormal({ seed: layerSeed(this.seed, name) });
  }

  /** A k×k convolution, "same" padding; no bias unless asked (it feeds a BN). */
  conv(x: tf.SymbolicTensor, name: string, filters: number, kernelSize: number, strides = 1, useBias = false): tf.SymbolicTensor {
    return tf.layers
      .conv2d({ name, filters, kernelSize, strides, padding: 'same', useBias, kernelInitializer: this.he(name), biasInitializer: 'zeros' })
      .apply(x) as tf.SymbolicTensor;
  }

  /** A k×k depthwise convolution (channel multiplier 1), "same" padding, no bias. */
  depthwise(x: tf.SymbolicTensor, name: string, kernelSize: number, strides = 1): tf.SymbolicTensor {
    return tf.layers
      .depthwiseConv2d({ name, kernelSize, strides, padding: 'same', useBias: false, depthwiseInitializer: this.he(name) })
      .apply(x) as tf.SymbolicTensor;
  }

  /** Batch normalisation over the channel axis. */
  bn(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return tf.layers.batchNormalization({ name, axis: -1, momentum: BN_MOMENTUM, epsilon: BN_EPSILON }).apply(x) as tf.SymbolicTensor;
  }

  /** ReLU, or ReLU6 when `max` is 6. */
  relu(x: tf.SymbolicTensor, name: string, max?: number): tf.SymbolicTensor {
    return tf.layers.reLU({ name, ...(max === undefined ? {} : { maxValue: max }) }).apply(x) as tf.SymbolicTensor;
  }

  /** conv → BN → ReLU, named `prefix/conv`, `prefix/bn`, `prefix/relu`. */
  convBnRelu(x: tf.SymbolicTensor, prefix: string, filters: number, kernelSize = 3, strides = 1, reluMax?: number): tf.SymbolicTensor {
    const y = this.bn(this.conv(x, `${prefix}/conv`, filters, kernelSize, strides), `${prefix}/bn`);
    return this.relu(y, `${prefix}/relu`, reluMax);
  }

  /** A dense layer with bias (logits: no activation). */
  dense(x: tf.SymbolicTensor, name: string, units: number): tf.SymbolicTensor {
    return tf.layers
      .dense({ name, units, kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed(this.seed, name) }), biasInitializer: 'zeros' })
      .apply(x) as tf.SymbolicTensor;
  }

  /** Global average pooling to one vector per image. */
  globalPool(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return tf.layers.globalAveragePooling2d({ name }).apply(x) as tf.SymbolicTensor;
  }

  /** 2×2 max pooling, stride 2. */
  maxPool(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return tf.layers.maxPooling2d({ name, poolSize: 2, strides: 2, padding: 'valid' }).apply(x) as tf.SymbolicTensor;
  }
}

/** The NHWC input tensor of a model, named `input`. */
export function modelInput(opts: ModelOptions): tf.SymbolicTensor {
  return tf.input({ name: 'input', shape: [opts.inputSize, opts.inputSize, opts.inputChannels] });
}
