import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import { adamUpdate, adamUpdateInPlace, registerAdamKernels } from '../engine/adam.ts';

/** Settings of the local optimiser. */
export interface OptimizerConfig {
  kind: 'adam' | 'sgd';
  /** SGD momentum μ (default 0.9). */
  momentum?: number;
  /** Adam β₁, β₂, ε (defaults 0.9, 0.999, 1e-8). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /**
   * Decoupled weight decay λ (Loshchilov & Hutter 2019, "Decoupled Weight Decay
   * Regularization", arXiv:1711.05101): w ← w − lr·λ·w each step, applied to kernels
   * (rank ≥ 2) only, never to biases or normalisation parameters. Default 0.
   */
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015, arXiv:1412.6980) or SGD with heavy-ball momentum, with
 * decoupled weight decay, over a fixed list of variables. The learning rate is given per
 * step so any schedule can drive it, and the whole state is exportable as named tensors
 * so a checkpoint resumes exactly.
 */
export class LocalOptimizer {
  private readonly slots: tf.Variable[][];
  private t = 0;

  constructor(
    private readonly vars: readonly tf.Variable[],
    private readonly cfg: OptimizerConfig,
  ) {
    const nSlots = cfg.kind === 'adam' ? 2 : 1;
    if (cfg.kind === 'adam') registerAdamKernels();
    this.slots = vars.map((v) => Array.from({ length: nSlots }, () => zeroVariable(v.shape)));
  }

  /** Applies one update with `grads[i]` for `vars[i]` at learning rate `lr`. Does not dispose grads. */
  step(grads: readonly tf.Tensor[], lr: number): void {
    this.t++;
    tf.tidy(() => {
      this.vars.forEach((v, i) => (this.cfg.kind === 'adam' ? this.adamStep(i, v, grads[i], lr) : this.sgdStep(i, v, grads[i], lr)));
    });
  }

  /** λ for this variable: kernels (rank ≥ 2) only. */
  private decayOf(x: tf.Variable): number {
    return x.rank >= 2 ? (this.cfg.weightDecay ?? 0) : 0;
  }

  /**
   * x ← x(1 − lr·λ) − lr·m̂/(√v̂ + ε) with the moments: the same as subtracting lr·λ·x after the
   * step (the Adam term does not read x). Decay and step are one pass, written into x, m and v
   * in place on wasm with SIMD (adamUpdateInPlace), else one fused engine kernel and assigns.
   */
  private adamStep(i: number, x: tf.Variable, g: tf.Tensor, lr: number): void {
    const [m, v] = this.slots[i];
    const h = { lr, beta1: this.cfg.beta1 ?? 0.9, beta2: this.cfg.beta2 ?? 0.999, epsilon: this.cfg.epsilon ?? 1e-8, step: this.t, weightDecay: this.decayOf(x) };
    if (adamUpdateInPlace(x, g, m, v, h)) return;
    const [x2, m2, v2] = adamUpdate(x, g, m, v, h);
    x.assign(x2);
    m.assign(m2);
    v.assign(v2);
  }

  /** Heavy-ball SGD: x ← x − lr·buf − lr·λ·x with buf ← μ·buf + g. */
  private sgdStep(i: number, x: tf.Variable, g: tf.Tensor, lr: number): void {
    const wd = this.decayOf(x);
    let next = tf.sub(x, tf.mul(this.momentumDirection(i, g), lr));
    if (wd > 0) next = tf.sub(next, tf.mul(x, lr * wd));
    x.assign(next);
  }

  private momentumDirection(i: number, g: tf.Tensor): tf.Tensor {
    const [buf] = this.slots[i];
    buf.assign(tf.add(tf.mul(buf, this.cfg.momentum ?? 0.9), g));
    return buf;
  }

  /** The step count and moment buffers, for a checkpoint. */
  getState(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: 'opt/step', shape: [1], dtype: 'float32', data: Float32Array.of(this.t) }];
    this.slots.forEach((s, i) => s.forEach((slot, j) => out.push({ name: `opt/${i}/${j}`, shape: slot.shape, dtype: 'float32', data: slot.dataSync() as Float32Array })));
    return out;
  }

  /** Restores what getState returned; throws when it does not fit these variables. */
  setState(state: readonly NamedTensor[]): void {
    const byName = new Map(state.map((s) => [s.name, s]));
    const step = byName.get('opt/step');
    if (!step) throw new Error('optimizer state has no step count');
    this.slots.forEach((s, i) =>
      s.forEach((slot, j) => {
        const t = byName.get(`opt/${i}/${j}`);
        if (!t || t.data.length !== slot.size) throw new Error(`optimizer state does not fit slot ${i}/${j}`);
        tf.tidy(() => slot.assign(tf.tensor(t.data, slot.shape)));
      }),
    );
    this.t = step.data[0];
  }

  /** Frees the moment buffers. */
  dispose(): void {
    this.slots.flat().forEach((s) => s.dispose());
  }
}

/** A non-trainable variable of zeros; the initial tensor is freed (tf.variable keeps its own reference). */
function zeroVariable(shape: number[]): tf.Variable {
  const z = tf.zeros(shape);
  const v = tf.variable(z, false);
  z.dispose();
  return v;
}
