import { fedAvg, fedProx } from './fedavg.ts';
import { fedAdam, fedYogi, type FedOptParams } from './fedopt.ts';
import type { Strategy } from './strategy.ts';

/** A strategy as the coordinator's config names it. */
export type StrategyConfig =
  | { name: 'fedavg' }
  | { name: 'fedprox'; mu: number }
  | ({ name: 'fedadam' | 'fedyogi' } & Partial<FedOptParams>);

/** The strategy a config names. */
export function makeStrategy(c: StrategyConfig): Strategy {
  switch (c.name) {
    case 'fedavg':
      return fedAvg();
    case 'fedprox':
      return fedProx(c.mu);
    case 'fedadam':
      return fedAdam(c);
    case 'fedyogi':
      return fedYogi(c);
  }
}

export type { Aggregated, FitResult, Strategy } from './strategy.ts';
export { weightedMean, weightedSum } from './aggregate.ts';
export { fedAvg, fedProx } from './fedavg.ts';
export { fedAdam, fedYogi, FEDOPT_DEFAULTS, type FedOptParams } from './fedopt.ts';
