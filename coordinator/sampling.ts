import { Rng } from '../core/rng.ts';

/**
 * The sites that train in round `round`: ⌈fraction·|available|⌉ of them, at least
 * `minSites`, at most all, chosen by a shuffle seeded with (seed, round) so a resumed
 * run samples the same sites. Returned sorted.
 */
export function sampleSites(available: readonly string[], fraction: number, minSites: number, seed: number, round: number): string[] {
  const sorted = [...available].sort();
  const k = Math.min(sorted.length, Math.max(minSites, Math.ceil(fraction * sorted.length)));
  return new Rng(seed).fork(`round:${round}`).shuffle(sorted).slice(0, k).sort();
}
