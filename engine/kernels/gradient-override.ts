import * as tf from '@tensorflow/tfjs';

/** A registered gradient's function, as tf.GradConfig holds it. */
export type GradFunc = tf.GradConfig['gradFunc'];

/** A kernel whose gradient fedkd replaced, and the way back to tfjs's own. */
export interface GradientOverride {
  /** Runs `f` with tfjs's own gradient registered (for comparisons in tests). */
  withStock<T>(f: () => T): T;
}

/**
 * Registers `make(stock)` as the gradient of `kernelName`, keeping tfjs's other GradConfig
 * fields (inputs and outputs to save). The replacement falls back to `stock` for the cases
 * it does not cover, so values are unchanged.
 */
export function overrideGradient(kernelName: string, make: (stock: GradFunc) => GradFunc): GradientOverride {
  const original = tf.getGradient(kernelName);
  const ours: tf.GradConfig = { ...original, gradFunc: make(original.gradFunc) };
  tf.registerGradient(ours);
  return {
    withStock<T>(f: () => T): T {
      tf.registerGradient(original);
      try {
        return f();
      } finally {
        tf.registerGradient(ours);
      }
    },
  };
}
