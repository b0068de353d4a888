import type * as tf from '@tensorflow/tfjs';
import { applyMasks } from './apply-masks.ts';
import type { ChannelGraph } from './graph.ts';
import { channelImportance } from './importance.ts';
import { maskCounts, type PruneMasks } from './masks.ts';
import { selectMasks, type SelectOptions } from './select.ts';

/** Fine-tunes the masked model between pruning steps (e.g. a few epochs of train/'s loop with the masks). */
export type FineTune = (model: tf.LayersModel, masks: PruneMasks, step: number) => Promise<void>;

/** An iterative schedule: reach `ratio` in `steps` equal increments, fine-tuning after each. */
export interface ScheduleOptions extends Omit<SelectOptions, 'previous'> {
  /** Number of prune-then-fine-tune steps (1 = one shot). */
  steps?: number;
  fineTune?: FineTune;
}

/** What one step did. */
export interface ScheduleStep {
  step: number;
  ratio: number;
  keptChannels: number;
  totalChannels: number;
}

/** The ratio reached after `step` of `steps`: ratio·step/steps. */
export function stepRatio(ratio: number, step: number, steps: number): number {
  return (ratio * step) / steps;
}

/**
 * Iterative pruning (Li et al. 2017, §3.4 "prune and retrain iteratively"): at step i the
 * channels are re-ranked on the current weights and masks grow to ratio·i/steps (channels
 * pruned earlier stay pruned), the masks are applied to the model in place, then `fineTune`
 * runs. Masks are re-applied after fine-tuning, so a fine-tune without the gradient hook cannot
 * revive a channel. Returns the final masks; `shrinkModel` turns them into a smaller model.
 */
export async function pruneIteratively(
  model: tf.LayersModel,
  graph: ChannelGraph,
  opts: ScheduleOptions,
): Promise<{ masks: PruneMasks; steps: ScheduleStep[] }> {
  const steps = opts.steps ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a positive integer, got ${steps}`);
  let masks: PruneMasks | undefined;
  const log: ScheduleStep[] = [];
  for (let step = 1; step <= steps; step++) {
    const ratio = stepRatio(opts.ratio, step, steps);
    const scores = channelImportance(model, graph, opts.criterion);
    masks = selectMasks(graph, scores, { ...opts, ratio, previous: masks });
    applyMasks(model, masks, graph);
    if (opts.fineTune) {
      await opts.fineTune(model, masks, step);
      applyMasks(model, masks, graph);
    }
    const c = maskCounts(masks);
    log.push({ step, ratio, keptChannels: c.kept, totalChannels: c.total });
  }
  return { masks: masks!, steps: log };
}
