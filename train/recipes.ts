import type * as tf from '@tensorflow/tfjs';
import type { KdOptions } from '../distill/losses.ts';
import type { NamedTensor } from '../core/tensors.ts';
import { buildModel, setNamedWeights } from '../models/index.ts';
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
  /** Data-parallel worker threads (TrainConfig.replicas); default 1. */
  replicas?: number;
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
 * Channel pruning inside one classifier run, on the schedule a federated run follows: before
 * each epoch in `atEpochs` the masks grow (federatedMasks: ratio·k/K of every channel group,
 * ranked on the model's own weights, pruned channels staying pruned), and the rest of the run
 * trains under them, on the same learning-rate schedule. The same pruned student a federation
 * with `settings` produces, trained on one dataset: a like-for-like baseline.
 */
export interface ClassifierPruning {
  settings: PruneSettings;
  atEpochs: readonly number[];
}

/**
 * Builds `recipe.arch` for the set's image size and channels and trains it with trainLocal,
 * on hard labels or, with `softLabels` (teacher logits per training row), by distillation.
 * A stratified validation part of the training set drives early stopping and best-epoch choice.
 * With `pruning`, the best epoch is chosen among those after the last pruning step, and the
 * masks come back with the model.
 */
export async function trainClassifier(input: {
  train: ImageSet;
  softLabels?: Float32Array;
  recipe: ClassifierRecipe;
  pruning?: ClassifierPruning;
  /** Weights to start from (e.g. a pre-trained student) instead of the seed's random ones. */
  initialWeights?: readonly NamedTensor[];
  onEpochEnd?: Parameters<typeof trainLocal>[0]['onEpochEnd'];
}): Promise<{ model: tf.LayersModel; result: TrainLocalResult; masks?: PruneMasks }> {
  const r = { ...DEFAULT_RECIPE, ...input.recipe };
  const numClasses = classCount(input.train);
  const model = buildModel(r.arch, { inputSize: input.train.size, inputChannels: input.train.channels, numClasses, widthMultiplier: r.widthMultiplier ?? 1, seed: r.seed });
  if (input.initialWeights) setNamedWeights(model, input.initialWeights);
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
  const p = input.pruning;
  const cuts = p ? [...new Set(p.atEpochs)].filter((e) => e > 0 && e < r.epochs).sort((a, b) => a - b) : [];
  let masks: PruneMasks | undefined;
  const hooks: MaskHook[] = [];
  const pruneBeforeEpoch = (epoch: number): MaskHook | undefined => {
    if (!p || !cuts.includes(epoch)) return undefined;
    // federatedMasks' schedule with epochs for rounds: every cut is a pruning step
    masks = federatedMasks(model, { ...p.settings, atRounds: cuts }, epoch, { previous: masks })!;
    const hook = createMaskHook(model, masks);
    hooks.push(hook);
    return hook;
  };
  try {
    const result = await trainLocal({
      model,
      train,
      val,
      softLabels: soft,
      ...(cuts.length ? { pruneBeforeEpoch } : {}),
      config: {
        epochs: r.epochs,
        batchSize: r.batchSize,
        optimizer: r.optimizer,
        schedule: { lr: r.lr, kind: 'cosine', warmupSteps: r.warmupEpochs * stepsPerEpoch, minLr: r.lr / 100 },
        seed: r.seed,
        augment: r.augment,
        kd: r.kd,
        earlyStopping: r.patience ? { patience: r.patience } : undefined,
        checkpointDir: r.checkpointDir,
        label: r.label ?? r.arch,
        ...(r.replicas && r.replicas > 1 ? { replicas: r.replicas } : {}),
      },
      onEpochEnd: input.onEpochEnd,
    });
    return { model, result, ...(masks ? { masks } : {}) };
  } finally {
    hooks.forEach((h) => h.dispose());
  }
}

/** Rows `rows` of an N × k row-major array. */
function gatherRows(a: Float32Array, k: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * k);
  rows.forEach((r, i) => out.set(a.subarray(r * k, (r + 1) * k), i * k));
  return out;
}
