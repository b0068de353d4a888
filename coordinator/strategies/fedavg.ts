import type { NamedTensor } from '../../core/tensors.ts';
import type { RoundConfig } from '../../proto/types.ts';
import { weightedMean } from './aggregate.ts';
import type { Aggregated, FitResult, Strategy } from './strategy.ts';

/**
 * FedAvg: the global model is the example-weighted mean of the sites' models
 * (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
 * Decentralized Data"). Stateless.
 */
export function fedAvg(): Strategy {
  return {
    name: 'fedavg',
    configureFit: (base: RoundConfig): RoundConfig => ({ ...base }),
    aggregateFit: (_global: readonly NamedTensor[], results: readonly FitResult[]): Aggregated => ({ weights: weightedMean(results), state: null }),
  };
}

/**
 * FedProx: FedAvg's aggregation, with the proximal coefficient μ sent to the sites, whose
 * local loss adds μ/2·‖w − w_global‖² (Li et al. 2020, "Federated Optimization in
 * Heterogeneous Networks").
 */
export function fedProx(mu: number): Strategy {
  if (!(mu >= 0)) throw new Error(`FedProx mu must be >= 0, got ${mu}`);
  const avg = fedAvg();
  return { name: 'fedprox', configureFit: (base) => ({ ...base, proximalMu: mu }), aggregateFit: avg.aggregateFit };
}
