import { fedAvg, fedProx } from './fedavg.ts';
import { fedAdam, fedYogi, type FedOptParams } from './fedopt.ts';
import type { Strategy } from './strategy.ts';

/**
 * How the sites' models are weighted in the mean: by their training examples (McMahan et al.
 * 2017, the default), or every site alike ("one hospital, one vote": a small site is not
 * outweighed by a large one, at the large one's expense).
 */
export type SiteWeighting = 'examples' | 'sites';

/** A strategy as the coordinator's config names it. */
export type StrategyConfig = (
  | { name: 'fedavg' }
  | { name: 'fedprox'; mu: number }
  | ({ name: 'fedadam' | 'fedyogi' } & Partial<FedOptParams>)
) & { weighting?: SiteWeighting };

/** The strategy a config names, weighting sites as it says. */
export function makeStrategy(c: StrategyConfig): Strategy {
  const s = baseStrategy(c);
  return c.weighting === 'sites' ? weighSitesAlike(s) : s;
}

/** `s` with every site's result counted as one example, so each site weighs the same. */
export function weighSitesAlike(s: Strategy): Strategy {
  return { ...s, aggregateFit: (global, results, state) => s.aggregateFit(global, results.map((r) => ({ ...r, numExamples: 1 })), state) };
}

function baseStrategy(c: StrategyConfig): Strategy {
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
