/** How sure the report's figures are: the AUCs' sampling noise and what it does to the spread across sites. */
import { Rng } from '../../core/rng.ts';
import { aucStandardError } from '../../train/metrics.ts';
import type { Comparison } from './baselines.ts';

/**
 * The spread (max − min) of AUCs measured as `centres` plus N(0, se²) noise per site, by seeded
 * Monte Carlo: its mean, how often it exceeds `target`, and its central 95% interval.
 */
export function spreadDistribution(centres: readonly number[], standardErrors: readonly number[], target: number, draws = 20000, seed = 1): { mean: number; pAbove: number; interval: [number, number] } {
  const rng = new Rng(seed);
  const spreads = new Float64Array(draws);
  let above = 0;
  for (let d = 0; d < draws; d++) {
    let lo = Infinity;
    let hi = -Infinity;
    standardErrors.forEach((se, i) => {
      const v = centres[i] + se * rng.normal();
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    });
    spreads[d] = hi - lo;
    if (hi - lo > target) above++;
  }
  const sum = spreads.reduce((a, v) => a + v, 0);
  spreads.sort();
  const at = (q: number): number => spreads[Math.min(draws - 1, Math.floor(q * draws))];
  return { mean: sum / draws, pAbove: above / draws, interval: [at(0.025), at(0.975)] };
}

/**
 * How large a spread sampling noise alone makes: the spread measured for sites whose true AUCs
 * are equal, given each site's AUC standard error. Its mean, and how often it exceeds `target`.
 */
export function spreadFromNoise(standardErrors: readonly number[], target: number): { mean: number; pAbove: number } {
  const d = spreadDistribution(standardErrors.map(() => 0), standardErrors, target);
  return { mean: d.mean, pAbove: d.pAbove };
}

export interface Uncertainty {
  standardErrors: Record<string, number>;
  spreadFromNoise: { mean: number; pAbove: number };
  /** The federated spread a fresh test split of the same size would measure, were the sites' true AUCs those measured. */
  remeasuredSpread: { interval: [number, number]; pAbove: number };
}

/** Each site's federated AUC standard error (Hanley & McNeil), the spread noise alone gives, and how far a fresh test split could move the spread, when the test counts are known. */
export function uncertainty(c: Comparison, target: number): Uncertainty | undefined {
  const counts = c.testCounts;
  if (!counts) return undefined;
  const se = Object.fromEntries(c.sites.map((s) => [s, aucStandardError(c.federated[s], counts[s].pos, counts[s].neg)]));
  const again = spreadDistribution(c.sites.map((s) => c.federated[s]), Object.values(se), target);
  return { standardErrors: se, spreadFromNoise: spreadFromNoise(Object.values(se), target), remeasuredSpread: { interval: again.interval, pAbove: again.pAbove } };
}
