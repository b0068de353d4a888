import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE, ADAM_UPDATE_KERNELS, adamUpdateInPlace } from './kernels/AdamUpdate.ts';
import type { AdamHyper } from './kernels/AdamUpdate_impl.ts';

export type { AdamHyper } from './kernels/AdamUpdate_impl.ts';
export { adamUpdateInPlace } from './kernels/AdamUpdate.ts';

/** A named tensor as tf.Optimizer passes them (tfjs-core's NamedTensor, not re-exported by tfjs). */
type OptimizerTensor = { name: string; tensor: tf.Tensor };

/** Registers the fused Adam kernel for wasm and cpu; idempotent. */
export function registerAdamKernels(): void {
  for (const k of ADAM_UPDATE_KERNELS) if (!tf.getKernel(k.kernelName, k.backendName)) tf.registerKernel(k);
}

/**
 * One Adam step for one variable: returns [x′, m′, v′] (the caller assigns them). One fused
 * kernel on wasm and cpu; the same formula in tfjs ops on other backends (tfjs-node).
 */
export function adamUpdate(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, h: AdamHyper): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (tf.getKernel(ADAM_UPDATE, tf.getBackend())) {
    return tf.engine().runKernel(ADAM_UPDATE, { x, g, m, v }, h as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  return tf.tidy(() => {
    const m2 = tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1));
    const v2 = tf.add(tf.mul(v, h.beta2), tf.mul(tf.square(g), 1 - h.beta2));
    const mHat = tf.div(m2, 1 - Math.pow(h.beta1, h.step));
    const vHat = tf.div(v2, 1 - Math.pow(h.beta2, h.step));
    const keep = 1 - h.lr * (h.weightDecay ?? 0);
    const x2 = tf.sub(keep === 1 ? x : tf.mul(x, keep), tf.div(tf.mul(mHat, h.lr), tf.add(tf.sqrt(vHat), h.epsilon)));
    return [x2, m2, v2];
  });
}

/**
 * Adam as a tf.Optimizer (drop-in for tf.train.adam in `minimize` / `model.compile`) whose
 * update is one fused kernel per variable instead of a dozen elementwise ones; on wasm with the
 * SIMD module it updates each variable's buffer in place (adamUpdateInPlace). Same defaults
 * as tf.train.adam (β₁ 0.9, β₂ 0.999, ε = backend epsilon, 1e-7 on float32).
 */
export class FusedAdamOptimizer extends tf.Optimizer {
  /** Name for tf.serialization. */
  static get className(): string {
    return 'FedkdFusedAdam';
  }

  private readonly moments = new Map<string, { m: tf.Variable; v: tf.Variable }>();
  private t = 0;

  constructor(
    readonly learningRate = 1e-3,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = tf.backend().epsilon(),
  ) {
    super();
    registerAdamKernels();
  }

  /** Applies one step with the given gradients (by variable name, or as named tensors). */
  override applyGradients(variableGradients: tf.NamedTensorMap | OptimizerTensor[]): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    this.t++;
    const h: AdamHyper = { lr: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, step: this.t };
    for (const { name, tensor: g } of list) {
      if (g == null) continue;
      const x = tf.engine().registeredVariables[name];
      const s = this.moments.get(name) ?? this.addMoments(name, x);
      if (adamUpdateInPlace(x, g, s.m, s.v, h)) continue;
      const [x2, m2, v2] = adamUpdate(x, g, s.m, s.v, h);
      x.assign(x2);
      s.m.assign(m2);
      s.v.assign(v2);
      tf.dispose([x2, m2, v2]);
    }
    this.incrementIterations();
  }

  private addMoments(name: string, x: tf.Variable): { m: tf.Variable; v: tf.Variable } {
    const s = { m: tf.variable(tf.zerosLike(x), false, `${name}/m`), v: tf.variable(tf.zerosLike(x), false, `${name}/v`) };
    this.moments.set(name, s);
    return s;
  }

  /** Frees the moment variables. */
  override dispose(): void {
    for (const s of this.moments.values()) tf.dispose([s.m, s.v]);
    this.moments.clear();
  }

  /** The optimiser state: iteration count, then each variable's m and v. */
  override async getWeights(): Promise<OptimizerTensor[]> {
    const named = [...this.moments.entries()].flatMap(([n, s]) => [{ name: `${n}/m`, tensor: s.m }, { name: `${n}/v`, tensor: s.v }]);
    return [await this.saveIterations(), ...named];
  }

  /** Restores state saved by getWeights (moments of variables not yet seen are created). */
  override async setWeights(weightValues: OptimizerTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.t = this.iterations;
    for (const { name, tensor } of rest) {
      const varName = name.replace(/\/(m|v)$/, '');
      const s = this.moments.get(varName) ?? this.addMoments(varName, tf.engine().registeredVariables[varName]);
      (name.endsWith('/m') ? s.m : s.v).assign(tensor);
    }
  }

  /** Serialisable configuration. */
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }
}
