import type { NamedTensor } from '../../core/tensors.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { weightedMean } from './aggregate.ts';
import type { Aggregated, FitResult, Strategy } from './strategy.ts';

/** Server optimiser hyper-parameters (Reddi et al. 2021, Algorithm 2). */
export interface FedOptParams {
  /** Server learning rate η. */
  eta: number;
  beta1: number;
  beta2: number;
  /** Adaptivity τ; the second moment starts at τ². */
  tau: number;
}

/** Defaults within the ranges Reddi et al. searched. */
export const FEDOPT_DEFAULTS: FedOptParams = { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 };

type SecondMoment = (v: number, d2: number, beta2: number) => number;

/** Adam: v ← β₂v + (1−β₂)Δ². */
const adamV: SecondMoment = (v, d2, b2) => b2 * v + (1 - b2) * d2;
/** Yogi: v ← v − (1−β₂)Δ²·sign(v − Δ²). */
const yogiV: SecondMoment = (v, d2, b2) => v - (1 - b2) * d2 * Math.sign(v - d2);

/**
 * One server-optimiser step per tensor. Δ = FedAvg(results) − x, m ← β₁m + (1−β₁)Δ,
 * v by `second`, x ← x + η·m/(√v + τ); m starts at 0 and v at τ². The state is the
 * tensors `m/NAME` then `v/NAME`.
 */
function fedOptStep(second: SecondMoment, p: FedOptParams, global: readonly NamedTensor[], results: readonly FitResult[], state: readonly NamedTensor[] | null): Aggregated {
  const avg = weightedMean(results);
  const n = global.length;
  if (state && state.length !== 2 * n) throw new Error(`server optimiser state has ${state.length} tensors, expected ${2 * n}`);
  const weights: NamedTensor[] = [];
  const ms: NamedTensor[] = [];
  const vs: NamedTensor[] = [];
  global.forEach((g, i) => {
    const x = g.data;
    const m = state ? Float32Array.from(state[i].data) : new Float32Array(x.length);
    const v = state ? Float32Array.from(state[n + i].data) : new Float32Array(x.length).fill(p.tau * p.tau);
    const out = new Float32Array(x.length);
    const a = avg[i].data;
    for (let j = 0; j < x.length; j++) {
      const d = a[j] - x[j];
      m[j] = p.beta1 * m[j] + (1 - p.beta1) * d;
      v[j] = second(v[j], d * d, p.beta2);
      out[j] = x[j] + (p.eta * m[j]) / (Math.sqrt(v[j]) + p.tau);
    }
    weights.push({ name: g.name, shape: [...g.shape], dtype: 'float32', data: out });
    ms.push({ name: `m/${g.name}`, shape: [...g.shape], dtype: 'float32', data: m });
    vs.push({ name: `v/${g.name}`, shape: [...g.shape], dtype: 'float32', data: v });
  });
  return { weights, state: [...ms, ...vs] };
}

function fedOpt(name: string, second: SecondMoment, params: Partial<FedOptParams>): Strategy {
  const p = { ...FEDOPT_DEFAULTS, ...params };
  return {
    name,
    configureFit: (base: RoundConfig): RoundConfig => ({ ...base }),
    aggregateFit: (global, results, state) => fedOptStep(second, p, global, results, state),
  };
}

/** FedAdam: Adam on the server over the averaged update (Reddi et al. 2021, "Adaptive Federated Optimization"). */
export function fedAdam(params: Partial<FedOptParams> = {}): Strategy {
  return fedOpt('fedadam', adamV, params);
}

/** FedYogi: Yogi on the server over the averaged update (Reddi et al. 2021, "Adaptive Federated Optimization"). */
export function fedYogi(params: Partial<FedOptParams> = {}): Strategy {
  return fedOpt('fedyogi', yogiV, params);
}
