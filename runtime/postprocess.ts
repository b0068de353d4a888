/** Softmax over a vector of logits, computed stably (max subtracted). */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Logistic sigmoid of each value. */
export function sigmoid(logits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = 1 / (1 + Math.exp(-logits[i]));
  return out;
}

/** What a model answers: class probabilities for `[N, K]` logits, a foreground mask for `[N, 1, H, W]`. */
export type ModelTask = 'classification' | 'segmentation';

/** The task an output shape implies (without the batch axis's size). */
export function taskOf(outputDims: readonly number[]): ModelTask {
  if (outputDims.length === 2) return 'classification';
  if (outputDims.length === 4 && outputDims[1] === 1) return 'segmentation';
  throw new Error(`unsupported model output [${outputDims.join(', ')}]: expected [N, classes] or [N, 1, H, W]`);
}
