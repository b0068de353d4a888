import { sha256 } from '../core/files.ts';

/** One arm of an A/B split: a model version and its share of traffic (any positive scale). */
export interface SplitArm {
  version: string;
  weight: number;
}

/** A stable point in [0, 1) for a request key: the first 32 bits of its sha256. */
export function keyPoint(key: string): number {
  return parseInt(sha256(key).slice(0, 8), 16) / 2 ** 32;
}

/**
 * Picks an arm by cumulative weight at the key's stable point, so one key (a patient, a
 * study, a client) always lands on the same version while the split stands. Without a key,
 * `random()` chooses.
 */
export function pickArm(arms: readonly SplitArm[], key: string | undefined, random: () => number = Math.random): SplitArm {
  const total = arms.reduce((s, a) => s + a.weight, 0);
  if (!arms.length || !(total > 0)) throw new Error('pickArm: no arm with a positive weight');
  const x = (key === undefined ? random() : keyPoint(key)) * total;
  let acc = 0;
  for (const a of arms) {
    acc += a.weight;
    if (x < acc) return a;
  }
  return arms[arms.length - 1];
}
