import type * as tf from '@tensorflow/tfjs';
import { SEGMENTER_SPECS, type SegmenterArch } from '../models/encoder.ts';
import { DEFAULT_MODEL_OPTIONS } from '../models/index.ts';
import { DEFAULT_RECIPE } from './recipes.ts';
import { trainLocal, type TrainLocalResult } from './loop.ts';
import { segmentationTask } from './segmentation.ts';
import { stratifiedSplit } from './split.ts';
import type { ImageSet } from './types.ts';

/** Settings of a segmentation teacher run (the network whose encoder half feeds the mask decoder). */
export interface SegmenterRecipe {
  /** The network: unet-l (the demo teacher) or unet-s (small, for quick runs). */
  arch: SegmenterArch;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Fraction held out (stratified by label) for validation Dice; 0 = none. */
  valFraction: number;
  patience?: number;
  augment: boolean;
  widthMultiplier?: number;
  label?: string;
}

/** Defaults of `fedkd encoder train`. */
export const DEFAULT_SEGMENTER: SegmenterRecipe = { arch: 'unet-l', epochs: 20, batchSize: 16, lr: 3e-3, seed: 0, valFraction: 0.15, augment: true };

/**
 * Trains a segmentation network (unet-l by default; models/encoder.ts SEGMENTERS) on a set's
 * masks (Dice + BCE, train/'s loop and segmentation task), with a stratified validation part
 * choosing the best epoch by Dice. Returns the model (best
 * weights) and the loop's result.
 */
export async function trainSegmenter(train: ImageSet, recipe: Partial<SegmenterRecipe> = {}): Promise<{ model: tf.LayersModel; result: TrainLocalResult }> {
  const r = { ...DEFAULT_SEGMENTER, ...recipe };
  if (!train.masks) throw new Error('segmentation needs masks (labels.csv with a mask column)');
  const model = SEGMENTER_SPECS[r.arch].build({ ...DEFAULT_MODEL_OPTIONS, inputSize: train.size, inputChannels: train.channels, widthMultiplier: r.widthMultiplier ?? 1, seed: r.seed });
  const split = r.valFraction > 0 ? stratifiedSplit(train, r.valFraction, r.seed) : undefined;
  const steps = Math.ceil((split?.train.n ?? train.n) / r.batchSize);
  const result = await trainLocal({
    model,
    train: split?.train ?? train,
    val: split?.val,
    task: segmentationTask(),
    config: {
      epochs: r.epochs,
      batchSize: r.batchSize,
      optimizer: DEFAULT_RECIPE.optimizer,
      schedule: { lr: r.lr, kind: 'cosine', warmupSteps: steps, minLr: r.lr / 100 },
      seed: r.seed,
      augment: r.augment ? DEFAULT_RECIPE.augment : undefined,
      earlyStopping: r.patience ? { patience: r.patience } : undefined,
      label: r.label ?? r.arch,
    },
  });
  return { model, result };
}
