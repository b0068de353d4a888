import type * as tf from '@tensorflow/tfjs';
import type { KdOptions } from '../distill/losses.ts';
import { buildModel } from '../models/index.ts';
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
 * Builds `recipe.arch` for the set's image size and channels and trains it with trainLocal,
 * on hard labels or, with `softLabels` (teacher logits per training row), by distillation.
 * A stratified validation part of the training set drives early stopping and best-epoch choice.
 */
export async function trainClassifier(input: { train: ImageSet; softLabels?: Float32Array; recipe: ClassifierRecipe; onEpochEnd?: Parameters<typeof trainLocal>[0]['onEpochEnd'] }): Promise<{ model: tf.LayersModel; result: TrainLocalResult }> {
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
  const result = await trainLocal({
    model,
    train,
    val,
    softLabels: soft,
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
    },
    onEpochEnd: input.onEpochEnd,
  });
  return { model, result };
}

/** Rows `rows` of an N × k row-major array. */
function gatherRows(a: Float32Array, k: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * k);
  rows.forEach((r, i) => out.set(a.subarray(r * k, (r + 1) * k), i * k));
  return out;
}
