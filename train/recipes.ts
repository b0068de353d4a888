import type * as tf from '@tensorflow/tfjs';
import type { KdOptions } from '../distill/losses.ts';
import { buildModel } from '../models/index.ts';
import { createMaskHook, federatedMasks, type MaskHook, type PruneMasks, type PruneSettings } from '../prune/index.ts';
import { DEFAULT_AUGMENT, type AugmentConfig } from '../data/index.ts';
import { trainLocal, type TrainLocalResult } from './loop.ts';
import type { OptimizerConfig } from './optimizer.ts';
import { stratifiedSplit } from './split.ts';
import type { ImageSet } from './types.ts';

/** Settings of a standalone classifier run (`fedkd teacher train`, `fedkd train`). */
export interface ClassifierRecipe {
  arch: string;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  widthMultiplier?: number;
  optimizer?: OptimizerConfig;
  /** Warm-up epochs before the cosine decay (default 1). */
  warmupEpochs?: number;
  /** Fraction of the training set held out, stratified, for validation and early stopping (default 0.2; 0 = none). */
  valFraction?: number;
  /** Early-stopping patience in epochs (default: none). */
  patience?: number;
  augment?: AugmentConfig;
  kd?: KdOptions;
  checkpointDir?: string;
  label?: string;
}

/** The defaults the commands and the KD benchmark start from. */
export const DEFAULT_RECIPE = {
  epochs: 30,
  batchSize: 32,
  lr: 2e-3,
  seed: 0,
  valFraction: 0.2,
  warmupEpochs: 1,
  optimizer: { kind: 'adam', weightDecay: 1e-4 } as OptimizerConfig,
  augment: DEFAULT_AUGMENT as AugmentConfig,
};

/** Classes a set's labels span (at least 2: binary tasks use two logits). */
export function classCount(set: ImageSet): number {
  let max = 1;
  for (const l of set.labels) max = Math.max(max, l);
  return max + 1;
}

/**
 * Channel pruning inside one classifier run, on the schedule a federated run follows: after
 * each epoch in `atEpochs` the masks grow (federatedMasks: ratio·k/K of every channel group,
 * ranked on the model's own weights, pruned channels staying pruned), and the epochs after it
 * train under them. The same pruned student a federation with `settings` produces, trained on
 * one dataset, for a like-for-like baseline.
 */
export interface ClassifierPruning {
  settings: PruneSettings;
  atEpochs: readonly number[];
}

/**
 * The training phases of a run of `epochs` cut at `atEpochs` (those inside the run, sorted,
 * once each): [start, end) epoch ranges, the last one ending at `epochs`.
 */
export function pruningPhases(epochs: number, atEpochs: readonly number[]): { start: number; end: number }[] {
  const cuts = [...new Set(atEpochs)].filter((e) => e > 0 && e < epochs).sort((a, b) => a - b);
  return [0, ...cuts].map((start, i) => ({ start, end: cuts[i] ?? epochs }));
}

/**
 * Builds `recipe.arch` for the set's image size and channels and trains it with trainLocal,
 * on hard labels or, with `softLabels` (teacher logits per training row), by distillation.
 * A stratified validation part of the training set drives early stopping and best-epoch choice.
 * With `pruning`, the run is cut into phases at its epochs, each with its own cosine schedule
 * (warm restarts, as `fedkd prune` fine-tunes after each step); only the last, fully pruned
 * phase validates and chooses its best epoch. The masks come back with the model.
 */
export async function trainClassifier(input: {
  train: ImageSet;
  softLabels?: Float32Array;
  recipe: ClassifierRecipe;
  pruning?: ClassifierPruning;
  onEpochEnd?: Parameters<typeof trainLocal>[0]['onEpochEnd'];
}): Promise<{ model: tf.LayersModel; result: TrainLocalResult; masks?: PruneMasks }> {
  const r = { ...DEFAULT_RECIPE, ...input.recipe };
  const numClasses = classCount(input.train);
  const model = buildModel(r.arch, { inputSize: input.train.size, inputChannels: input.train.channels, numClasses, widthMultiplier: r.widthMultiplier ?? 1, seed: r.seed });
  let train = input.train;
  let val: ImageSet | undefined;
  let soft = input.softLabels;
  if (r.valFraction > 0) {
    const split = stratifiedSplit(input.train, r.valFraction, r.seed);
    train = split.train;
    val = split.val;
    soft = soft ? gatherRows(soft, soft.length / input.train.n, split.trainRows) : undefined;
  }
  const stepsPerEpoch = Math.ceil(train.n / r.batchSize);
  const phases = input.pruning ? pruningPhases(r.epochs, input.pruning.atEpochs) : [{ start: 0, end: r.epochs }];
  let masks: PruneMasks | undefined;
  let hook: MaskHook | undefined;
  let result: TrainLocalResult | undefined;
  try {
    for (const [i, phase] of phases.entries()) {
      if (i > 0 && input.pruning) {
        const p = input.pruning;
        masks = federatedMasks(model, { ...p.settings, atRounds: phases.slice(1).map((x) => x.start) }, phase.start, { previous: masks });
        hook?.dispose();
        hook = masks ? createMaskHook(model, masks) : undefined;
      }
      const last = i === phases.length - 1;
      result = await trainLocal({
        model,
        train,
        val: last ? val : undefined,
        softLabels: soft,
        maskHook: hook,
        config: {
          epochs: phase.end - phase.start,
          batchSize: r.batchSize,
          optimizer: r.optimizer,
          schedule: { lr: r.lr, kind: 'cosine', warmupSteps: i === 0 ? r.warmupEpochs * stepsPerEpoch : 0, minLr: r.lr / 100 },
          seed: r.seed + i,
          augment: r.augment,
          kd: r.kd,
          earlyStopping: r.patience && last ? { patience: r.patience } : undefined,
          checkpointDir: phases.length === 1 ? r.checkpointDir : undefined,
          label: phases.length === 1 ? (r.label ?? r.arch) : `${r.label ?? r.arch}, ${i === 0 ? 'before pruning' : `pruning step ${i}`}`,
        },
        onEpochEnd: input.onEpochEnd,
      });
    }
  } finally {
    hook?.dispose();
  }
  return { model, result: result!, ...(masks ? { masks } : {}) };
}

/** Rows `rows` of an N × k row-major array. */
function gatherRows(a: Float32Array, k: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * k);
  rows.forEach((r, i) => out.set(a.subarray(r * k, (r + 1) * k), i * k));
  return out;
}
