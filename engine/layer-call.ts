import type * as tf from '@tensorflow/tfjs';

/** A tf.layers `call` as it sits on a layer class's prototype. */
export type LayerCall<L> = (this: L, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** A layer class whose prototype `call` fedkd replaced, and the way back to tf.layers' own. */
export interface LayerCallOverride<L> {
  /** tf.layers' own call. */
  readonly stock: LayerCall<L>;
  /** Runs `f` with tf.layers' own call in place (for comparisons in tests). */
  withStock<T>(f: () => T): T;
}

/**
 * Replaces `call` on the prototype of `sample`'s class (tfjs exports the layer factories, not
 * the classes) with `make(stock)`; models and saved files are unchanged. The replacement
 * falls back to `stock` for the cases it does not cover.
 */
export function overrideLayerCall<L>(sample: tf.layers.Layer, make: (stock: LayerCall<L>) => LayerCall<L>): LayerCallOverride<L> {
  const proto = Object.getPrototypeOf(sample) as { call: LayerCall<L> };
  const stock = proto.call;
  proto.call = make(stock);
  return {
    stock,
    withStock<T>(f: () => T): T {
      const ours = proto.call;
      proto.call = stock;
      try {
        return f();
      } finally {
        proto.call = ours;
      }
    },
  };
}
