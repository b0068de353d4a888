/** Hyper-parameters of one Adam step; `step` is t ≥ 1, for the bias corrections βᵗ. */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  step: number;
  /** Decoupled weight decay λ (Loshchilov & Hutter 2019): x is first scaled by 1 − lr·λ. Default 0. */
  weightDecay?: number;
}

/** The factor 1 − lr·λ of decoupled weight decay, as the float32 the kernels multiply by (1 without decay). */
export function adamKeep(h: AdamHyper): number {
  return Math.fround(1 - h.lr * (h.weightDecay ?? 0));
}

/** The bias corrections 1/(1 − β₁ᵗ) and 1/(1 − β₂ᵗ) of step t. */
export function adamBiasCorrections(h: AdamHyper): [number, number] {
  return [1 / (1 - Math.pow(h.beta1, h.step)), 1 / (1 - Math.pow(h.beta2, h.step))];
}

/**
 * One Adam step for one variable in a single pass (Kingma & Ba, "Adam: A Method for
 * Stochastic Optimization", ICLR 2015, Algorithm 1, in the form tf.train.adam computes):
 * m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; x ← k·x − lr·(m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε), k = 1 − lr·λ
 * (decoupled weight decay, rounded to float32 as the wasm kernel multiplies).
 * Replaces the ~12 elementwise kernels per variable that the op-by-op form launches.
 */
export function adamUpdateImpl(
  x: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper,
  xOut: Float32Array, mOut: Float32Array, vOut: Float32Array,
): void {
  const [c1, c2] = adamBiasCorrections(h);
  const a1 = 1 - h.beta1;
  const a2 = 1 - h.beta2;
  const keep = adamKeep(h);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i];
    const mi = h.beta1 * m[i] + a1 * gi;
    const vi = h.beta2 * v[i] + a2 * gi * gi;
    mOut[i] = mi;
    vOut[i] = vi;
    xOut[i] = (keep === 1 ? x[i] : Math.fround(x[i] * keep)) - (h.lr * mi * c1) / (Math.sqrt(vi * c2) + h.epsilon);
  }
}
