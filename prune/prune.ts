import type * as tf from '@tensorflow/tfjs';
import { analyzeChannels, type ExcludeOptions } from './graph.ts';
import type { PruneMasks } from './masks.ts';
import { pruneReport, type PruneReport } from './report.ts';
import { pruneIteratively, type ScheduleOptions, type ScheduleStep } from './schedule.ts';
import { shrinkModel } from './surgery.ts';

/** Everything `pruneModel` takes: what to leave out, how much to prune, how, and when. */
export type PruneOptions = ExcludeOptions & ScheduleOptions;

/** The result of pruning: the smaller model, the masks on the original, the schedule's steps, the report. */
export interface PruneResult {
  model: tf.LayersModel;
  masks: PruneMasks;
  steps: ScheduleStep[];
  report: PruneReport;
}

/**
 * Structured channel pruning end to end: analyse channel groups, rank channels by the criterion,
 * mask (in `steps` increments with optional fine-tuning), then cut the masked channels out
 * into a new, smaller LayersModel. The input model's weights end up masked (zeroed channels);
 * its architecture is unchanged.
 */
export async function pruneModel(model: tf.LayersModel, opts: PruneOptions): Promise<PruneResult> {
  const graph = analyzeChannels(model, opts);
  const { masks, steps } = await pruneIteratively(model, graph, opts);
  const small = await shrinkModel(model, masks, graph);
  const settings = {
    criterion: opts.criterion,
    ratio: opts.ratio,
    scope: opts.scope ?? 'uniform',
    roundTo: opts.roundTo ?? 1,
    minChannels: opts.minChannels ?? 1,
    minKeepFraction: opts.minKeepFraction ?? 0.1,
    steps: opts.steps ?? 1,
    exclude: opts.exclude ?? [],
    excludeStem: opts.excludeStem ?? false,
    excludeHead: opts.excludeHead ?? false,
  };
  return { model: small, masks, steps, report: pruneReport(model, small, masks, settings) };
}
