import { z } from 'zod';
import { pruneSettingsSchema } from '../../prune/federated.ts';

/**
 * sim.yaml's `pruning:` block (issue 6 §4): pruneSettingsSchema's keys, with defaults that
 * prune by default — 30% of every channel group by L1 norm (42% fewer MACs on mobile-s ×0.5,
 * 50% on cnn-s ×0.5 at 64 px; issue 6 asks for at least 40%), in two steps at a third and half
 * of the rounds, the rest federated fine-tuning. 35% cost seed 2's federation 0.026 against the
 * same student trained centrally, 30% 0.011 (docs/FIGURES.md, session 5).
 * `atRounds` left out follows the number of rounds; `pruning: false` turns pruning off.
 */
export const simulatePruningSchema = z.union([
  z.literal(false),
  pruneSettingsSchema
    .extend({ ratio: pruneSettingsSchema.shape.ratio.default(0.3), atRounds: pruneSettingsSchema.shape.atRounds.optional() })
    .prefault({}),
]);

/**
 * The default pruning rounds for a run of `rounds`: at a third and at half of them, so the
 * pruned student has the second half of the run to recover (each step costs the global model
 * a few rounds of AUC); one step at the second-to-last round for short runs.
 */
export function defaultPruningRounds(rounds: number): number[] {
  if (rounds < 2) return [];
  if (rounds < 6) return [rounds - 1];
  return [...new Set([Math.round(rounds / 3), Math.round(rounds / 2)])];
}
