import type * as tf from '@tensorflow/tfjs';

/** A tf.layers `call` as it sits on a layer class's prototype. */
export type LayerCall<L> = (this: L, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** The single-input calls an override covers, and what it runs for them. */
export interface LayerCallCase<L> {
  /** True when `call` covers this layer on this input (else tf.layers' own call runs). */
  fits(layer: L, input: tf.Tensor, kwargs: Record<string, unknown>): boolean;
  /** The layer's output for one input. */
  call(layer: L, input: tf.Tensor): tf.Tensor;
}

/** A layer class whose prototype `call` fedkd replaced, and the way back to tf.layers' own. */
export interface LayerCallOverride {
  /** Runs `f` with tf.layers' own call in place (for comparisons in tests). */
  withStock<T>(f: () => T): T;
}

/**
 * Replaces `call` on the prototype of `sample`'s class (tfjs exports the layer factories, not
 * the classes) with `ours.call` for single inputs that `ours.fits`, and tf.layers' own call
 * for everything else; models and saved files are unchanged.
 */
export function overrideLayerCall<L>(sample: tf.layers.Layer, ours: LayerCallCase<L>): LayerCallOverride {
  const proto = Object.getPrototypeOf(sample) as { call: LayerCall<L> };
  const stock = proto.call;
  const replaced: LayerCall<L> = function (this: L, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const single = !Array.isArray(inputs) || inputs.length === 1;
    if (single && ours.fits(this, input, kwargs ?? {})) return ours.call(this, input);
    return stock.call(this, inputs, kwargs);
  };
  proto.call = replaced;
  return {
    withStock<T>(f: () => T): T {
      proto.call = stock;
      try {
        return f();
      } finally {
        proto.call = replaced;
      }
    },
  };
}
