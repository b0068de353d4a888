import type * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { analyzeChannels } from './graph.ts';
import { CRITERIA, channelImportance, sumScores, type ChannelScores } from './importance.ts';
import type { PruneMasks } from './masks.ts';
import { stepRatio } from './schedule.ts';
import { selectMasks } from './select.ts';

/**
 * Federated pruning settings, e.g. the `pruning:` block of sim.yaml / the coordinator config
 * (issue 6 §3). At each round in `atRounds` (after that round's aggregation) the coordinator
 * computes masks, reaching `ratio` at the last of them; `source` says whether channels are
 * ranked on the aggregated global model or on the sum of importance scores the sites report.
 */
export const pruneSettingsSchema = z
  .object({
    ratio: z.number().min(0).max(0.95),
    criterion: z.enum(CRITERIA).default('l1'),
    scope: z.enum(['uniform', 'global']).default('uniform'),
    round8: z.boolean().default(false),
    minChannels: z.number().int().positive().default(1),
    minKeepFraction: z.number().min(0).max(1).default(0.1),
    exclude: z.array(z.string()).default([]),
    excludeStem: z.boolean().default(false),
    excludeHead: z.boolean().default(false),
    atRounds: z.array(z.number().int().positive()).min(1),
    source: z.enum(['global-model', 'site-scores']).default('global-model'),
  })
  .strict();

/** Parsed federated pruning settings (see pruneSettingsSchema). */
export type PruneSettings = z.infer<typeof pruneSettingsSchema>;

/** Which pruning step a round is (1-based) and how many there are, or undefined if the round does not prune. */
export function pruningStep(settings: Pick<PruneSettings, 'atRounds'>, round: number): { step: number; steps: number } | undefined {
  const rounds = [...new Set(settings.atRounds)].sort((a, b) => a - b);
  const i = rounds.indexOf(round);
  return i < 0 ? undefined : { step: i + 1, steps: rounds.length };
}

/**
 * The coordinator's verb: masks for the next round's task, or undefined when `round` does not
 * prune. Ratio grows as ratio·k/K over the K pruning rounds; channels pruned in `previous`
 * stay pruned. With `source: 'site-scores'`, `siteScores` (each site's `channelImportance` on
 * its trained weights) are summed; otherwise `model` holds the aggregated global weights.
 */
export function federatedMasks(
  model: tf.LayersModel,
  settings: PruneSettings,
  round: number,
  input: { previous?: PruneMasks; siteScores?: readonly ChannelScores[] } = {},
): PruneMasks | undefined {
  const at = pruningStep(settings, round);
  if (!at) return undefined;
  const graph = analyzeChannels(model, settings);
  let scores: ChannelScores;
  if (settings.source === 'site-scores') {
    if (!input.siteScores?.length) throw new Error(`round ${round} prunes from site scores, but no site reported any`);
    scores = sumScores(input.siteScores);
  } else scores = channelImportance(model, graph, settings.criterion);
  return selectMasks(graph, scores, {
    ratio: stepRatio(settings.ratio, at.step, at.steps),
    scope: settings.scope,
    criterion: settings.criterion,
    minChannels: settings.minChannels,
    minKeepFraction: settings.minKeepFraction,
    roundTo: settings.round8 ? 8 : 1,
    previous: input.previous,
  });
}
