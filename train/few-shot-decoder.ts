import * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { NamedTensor } from '../core/tensors.ts';
import type { EmbeddingFile } from '../distill/embedding-store.ts';
import { buildMaskDecoder } from '../models/mask-decoder.ts';
import { medsamJitter } from './box-prompt.ts';
import { decoderSet, float32Source, pickRows, type DecoderAugment, type DecoderSet } from './decoder-data.ts';
import { evaluateDecoder, trainMaskDecoder, type DecoderEpoch, type DecoderMetrics, type DecoderTrainResult } from './mask-decoder-train.ts';
import { activationValues, planMemory, type MemoryEstimate } from './memory-plan.ts';

/** Strong few-shot augmentation: any of the eight flips/quarter turns, MedSAM's box jitter, 10% embedding noise. */
export function fewShotAugment(imageSize: number): DecoderAugment {
  return { dihedral: true, jitterPx: medsamJitter(imageSize), noise: 0.1 };
}

/** Settings of a few-shot decoder run. */
export interface FewShotOptions {
  shots: number;
  /** Labelled images besides the shots that score each epoch (early stopping, best epoch). */
  valImages: number;
  epochs: number;
  lr: number;
  seed: number;
  patience?: number;
  /** Fixed batch size; the memory planner picks one when absent. */
  batchSize?: number;
  maxBatch: number;
  /** Bytes the run may use (the planner's budget). */
  memoryBudget: number;
  augment?: DecoderAugment;
  decoderWidth?: number;
}

/** Peak memory: the planner's estimate and what was measured. */
export interface MemoryReport {
  estimate: MemoryEstimate;
  /** tf.profile's peak tensor bytes over the first step (less the tensors alive before the run), and the largest RSS sampled after each step. */
  measured: { tensorPeak: number; rssPeak: number };
}

/** What a few-shot run gives: the decoder (best weights), its figures, and which rows trained it. */
export interface FewShotResult {
  model: tf.LayersModel;
  result: DecoderTrainResult;
  test?: DecoderMetrics;
  memory: MemoryReport;
  shotRows: number[];
  valRows: number[];
}

/** `shots` rows for training and up to `valImages` others for validation, drawn by `seed` from the prompted rows. */
export function fewShotSplit(set: DecoderSet, shots: number, valImages: number, seed: number): { train: DecoderSet; val?: DecoderSet } {
  if (set.rows.length < shots) throw new UserError(`${shots} shots asked for, but only ${set.rows.length} training images have a mask to prompt for`);
  const order = new Rng(seed).fork('few-shot').shuffle(set.rows.map((_, i) => i));
  const valPicks = order.slice(shots, shots + valImages);
  return { train: pickRows(set, order.slice(0, shots)), val: valPicks.length ? pickRows(set, valPicks) : undefined };
}

/**
 * MedSAM-style few-shot decoder fine-tuning on cached embeddings (`trainStore`, opened
 * streamed): plans memory for the budget (batch size; the maps of the shots and validation
 * images decoded once to float32 in memory, or streamed from the float16 file), builds the
 * decoder for the embeddings' shape, trains it on `shots` prompted images with validation on
 * others, scores it on `testStore` (streamed) and measures peak memory beside the estimate.
 */
export async function finetuneDecoder(input: {
  trainStore: EmbeddingFile;
  testStore?: EmbeddingFile;
  options: FewShotOptions;
  label?: string;
  onEpochEnd?: (e: DecoderEpoch) => void;
  onBest?: (model: tf.LayersModel, weights: NamedTensor[], e: DecoderEpoch) => Promise<void>;
}): Promise<FewShotResult> {
  const o = input.options;
  const h = input.trainStore.header;
  const tensorsBefore = tf.memory().numBytes;
  const model = buildMaskDecoder({ embedSize: h.height, embedChannels: h.channels, imageSize: h.imageSize, width: o.decoderWidth, seed: o.seed });
  const prompted = decoderSet(input.trainStore);
  const baseline = process.memoryUsage().rss;
  const cached = Math.min(prompted.rows.length, o.shots + o.valImages);
  const estimate = planMemory(
    { images: cached, embeddingBytes: 4, embedShape: [h.height, h.width, h.channels], imageSize: h.imageSize, params: model.countParams(), activationsPerImage: activationValues(model), baselineBytes: baseline },
    o.memoryBudget,
    { maxBatch: o.maxBatch, trainImages: o.shots, batchSize: o.batchSize },
  );
  let split = fewShotSplit(prompted, o.shots, o.valImages, o.seed);
  if (estimate.caching === 'memory') {
    const source = float32Source(input.trainStore, [...split.train.rows, ...(split.val?.rows ?? [])]);
    split = { train: { ...split.train, source }, val: split.val && { ...split.val, source } };
  }
  const measured = { tensorPeak: 0, rssPeak: process.memoryUsage().rss };
  const result = await trainMaskDecoder({
    model,
    train: split.train,
    val: split.val,
    config: { epochs: o.epochs, batchSize: estimate.batchSize, lr: o.lr, seed: o.seed, patience: o.patience, augment: o.augment ?? fewShotAugment(h.imageSize), label: input.label },
    onEpochEnd: input.onEpochEnd,
    onBest: input.onBest ? (w, e) => (input.onBest as NonNullable<typeof input.onBest>)(model, w, e) : undefined,
    afterStep: () => {
      measured.rssPeak = Math.max(measured.rssPeak, process.memoryUsage().rss);
    },
    onFirstStepPeak: (b) => {
      measured.tensorPeak = b - tensorsBefore; // the run's own tensors, as the planner counts them
    },
  });
  const testSet = input.testStore ? decoderSet(input.testStore) : undefined;
  const test = testSet?.rows.length ? evaluateDecoder(model, testSet, 8) : undefined;
  return { model, result, test, memory: { estimate, measured }, shotRows: split.train.rows, valRows: split.val?.rows ?? [] };
}
