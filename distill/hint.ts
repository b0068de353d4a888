import * as tf from '@tensorflow/tfjs';

/**
 * The feature (hint) loss of FitNets (Romero et al. 2015, "FitNets: Hints for Thin Deep
 * Nets", arXiv:1412.6550): a student feature map passes through a learnt 1×1 convolution
 * (the regressor) to the teacher's channel count, and the loss is the mean squared error
 * to the teacher's feature map. Feature maps are NHWC with equal H and W.
 */
export class HintRegressor {
  /** The 1×1 kernel [1, 1, studentChannels, teacherChannels]; train it with the student. */
  readonly kernel: tf.Variable;

  constructor(studentChannels: number, teacherChannels: number, seed = 0) {
    const scale = Math.sqrt(2 / studentChannels);
    const init = tf.randomNormal([1, 1, studentChannels, teacherChannels], 0, scale, 'float32', seed);
    this.kernel = tf.variable(init, true);
    init.dispose();
  }

  /** Mean squared error between regressor(studentFeature) and teacherFeature. */
  loss(studentFeature: tf.Tensor4D, teacherFeature: tf.Tensor4D): tf.Scalar {
    return hintLoss(studentFeature, teacherFeature, this.kernel as tf.Variable<tf.Rank.R4>);
  }

  /** Frees the regressor's kernel. */
  dispose(): void {
    this.kernel.dispose();
  }
}

/** MSE between conv1x1(studentFeature, kernel) and teacherFeature (both NHWC). */
export function hintLoss(studentFeature: tf.Tensor4D, teacherFeature: tf.Tensor4D, kernel: tf.Tensor4D): tf.Scalar {
  const [, h, w] = studentFeature.shape;
  const [, th, tw, tc] = teacherFeature.shape;
  if (h !== th || w !== tw) throw new Error(`hint loss: student map ${h}x${w} vs teacher map ${th}x${tw}`);
  if (kernel.shape[3] !== tc) throw new Error(`hint regressor gives ${kernel.shape[3]} channels, teacher has ${tc}`);
  return tf.tidy(() => tf.mean(tf.squaredDifference(tf.conv2d(studentFeature, kernel, 1, 'valid'), teacherFeature)) as tf.Scalar);
}
