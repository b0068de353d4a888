import * as tf from '@tensorflow/tfjs';
import { progressBar } from '../core/progress.ts';
import { Rng } from '../core/rng.ts';
import type { NamedTensor } from '../core/tensors.ts';
import { getNamedWeights, setNamedWeights } from '../models/weights.ts';
import { shuffledOrder, batchRanges } from './batches.ts';
import { makeDecoderBatch, disposeDecoderBatch, type DecoderAugment, type DecoderBatch, type DecoderSet } from './decoder-data.ts';
import { dice } from './metrics.ts';
import { LocalOptimizer } from './optimizer.ts';
import { learningRateAt } from './schedule.ts';
import { diceBceLoss } from './segmentation.ts';
import { trainableVariables } from './weights.ts';

/** Settings of a few-shot decoder run. */
export interface DecoderTrainConfig {
  epochs: number;
  /** Pairs per step; 1 works (the decoder has no batch norm). */
  batchSize: number;
  /** Peak learning rate of Adam (cosine decay to lr/100, no warm-up). */
  lr: number;
  weightDecay?: number;
  /** Seeds order, augmentation and jitter. */
  seed: number;
  augment?: DecoderAugment;
  /** Stop after this many epochs without a better validation score (decoderScore). */
  patience?: number;
  label?: string;
}

/** Dice, IoU and loss of a decoder over a set, with the exact (unjittered) box prompts. */
export interface DecoderMetrics {
  dice: number;
  iou: number;
  loss: number;
  n: number;
}

/** One epoch of a decoder run. */
export interface DecoderEpoch {
  epoch: number;
  trainLoss: number;
  lr: number;
  val?: DecoderMetrics;
  seconds: number;
}

/** What trainMaskDecoder returns; the model holds the best weights too. */
export interface DecoderTrainResult {
  weights: NamedTensor[];
  bestEpoch: number;
  val?: DecoderMetrics;
  history: DecoderEpoch[];
  stoppedEarly: boolean;
}

/**
 * Jaccard index |P∩G| / |P∪G| of two binary masks (non-zero = foreground; Jaccard 1912).
 * Two empty masks agree perfectly: 1.
 */
export function iou(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] !== 0;
    const b = target[i] !== 0;
    if (a && b) inter++;
    if (a || b) union++;
  }
  return union === 0 ? 1 : inter / union;
}

/** What early stopping maximises: validation Dice, ties (e.g. all-empty predictions early on) broken by the lower loss. */
export function decoderScore(m: DecoderMetrics): number {
  return m.dice - 1e-3 * m.loss;
}

/** Mask logits of the decoder for a batch. */
function predict(model: tf.LayersModel, b: DecoderBatch, training: boolean): tf.Tensor4D {
  return model.apply([b.embedding, b.box], { training }) as tf.Tensor4D;
}

/**
 * Mean per-image Dice and IoU (logit > 0 ⇔ p > 0.5) and mean pixel BCE of `model` over `set`,
 * prompted with the exact boxes, or with boxes whose edges are jittered by up to
 * `prompt.jitterPx` (seeded), as a user's looser boxes would be.
 */
export function evaluateDecoder(model: tf.LayersModel, set: DecoderSet, batchSize: number, prompt?: { jitterPx: number; seed: number }): DecoderMetrics {
  const rng = prompt ? new Rng(prompt.seed) : undefined;
  const loose = prompt ? { dihedral: false, jitterPx: prompt.jitterPx, noise: 0 } : undefined;
  const px = set.source.header.imageSize ** 2;
  let diceSum = 0;
  let iouSum = 0;
  let loss = 0;
  const all = set.rows.map((_, i) => i);
  for (const picks of batchRanges(all, batchSize)) {
    const b = makeDecoderBatch(set, picks, loose, rng);
    const logits = tf.tidy(() => predict(model, b, false));
    const z = logits.dataSync();
    const y = b.masks.dataSync();
    logits.dispose();
    disposeDecoderBatch(b);
    for (let i = 0; i < picks.length; i++) {
      const zi = z.subarray(i * px, (i + 1) * px);
      const yi = y.subarray(i * px, (i + 1) * px);
      const pred = Uint8Array.from(zi, (v) => (v > 0 ? 1 : 0));
      diceSum += dice(pred, yi);
      iouSum += iou(pred, yi);
      for (let j = 0; j < px; j++) loss += Math.max(zi[j], 0) - zi[j] * yi[j] + Math.log1p(Math.exp(-Math.abs(zi[j])));
    }
  }
  const n = set.rows.length;
  return { dice: diceSum / n, iou: iouSum / n, loss: loss / (n * px), n };
}

/** One optimisation step on a batch (Dice + BCE); returns the loss. */
export function decoderStep(model: tf.LayersModel, vars: tf.Variable[], opt: LocalOptimizer, b: DecoderBatch, lr: number): number {
  const loss = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => diceBceLoss(predict(model, b, true), b.masks), vars);
    opt.step(vars.map((v) => grads[v.name]), lr);
    return value;
  });
  const v = loss.dataSync()[0];
  loss.dispose();
  return v;
}

/**
 * Few-shot training of a mask decoder on cached embeddings (MedSAM's recipe: the encoder
 * frozen, only the decoder learns): Adam with a cosine schedule, seeded shuffling and
 * augmentation (dihedral moves of map + mask + box, MedSAM's box jitter, embedding noise),
 * validation Dice each epoch, early stopping, and the best epoch's weights kept (`onBest` may
 * write them to disk). With `val` the model ends with the best weights; without (a federated
 * round's local epochs) with the last.
 */
export async function trainMaskDecoder(input: {
  model: tf.LayersModel;
  train: DecoderSet;
  val?: DecoderSet;
  config: DecoderTrainConfig;
  onEpochEnd?: (e: DecoderEpoch) => void;
  onBest?: (weights: NamedTensor[], e: DecoderEpoch) => Promise<void>;
  /** Called after every step (e.g. to sample memory). */
  afterStep?: () => void;
  /** Receives tf.profile's peak tensor bytes of the first step (batch made, step, batch freed). */
  onFirstStepPeak?: (peakBytes: number) => void;
}): Promise<DecoderTrainResult> {
  const { model, train, val, config: cfg } = input;
  const vars = trainableVariables(model);
  const opt = new LocalOptimizer(vars, { kind: 'adam', weightDecay: cfg.weightDecay ?? 0 });
  const steps = Math.ceil(train.rows.length / cfg.batchSize);
  const rng = new Rng(cfg.seed);
  const history: DecoderEpoch[] = [];
  let best: { score: number; epoch: number; weights: NamedTensor[]; val?: DecoderMetrics } = { score: -Infinity, epoch: -1, weights: getNamedWeights(model) };
  let step = 0;
  let stoppedEarly = false;
  try {
    for (let epoch = 0; epoch < cfg.epochs; epoch++) {
      if (cfg.patience !== undefined && epoch - best.epoch > cfg.patience) {
        stoppedEarly = true;
        break;
      }
      const t0 = performance.now();
      const order = shuffledOrder(train.rows.length, rng.fork(`shuffle:${epoch}`));
      const augRng = rng.fork(`augment:${epoch}`);
      const bar = progressBar(`${cfg.label ?? 'decoder'} epoch ${epoch + 1}/${cfg.epochs}`, steps);
      let lossSum = 0;
      let lr = cfg.lr;
      for (const picks of batchRanges(order, cfg.batchSize)) {
        lr = learningRateAt({ lr: cfg.lr, kind: 'cosine', warmupSteps: 0, minLr: cfg.lr / 100 }, step, cfg.epochs * steps);
        const run = (): void => {
          const b = makeDecoderBatch(train, picks, cfg.augment, augRng);
          try {
            lossSum += decoderStep(model, vars, opt, b, lr) * picks.length;
          } finally {
            disposeDecoderBatch(b);
          }
        };
        if (step === 0 && input.onFirstStepPeak) input.onFirstStepPeak((await tf.profile(run)).peakBytes);
        else run();
        step++;
        input.afterStep?.();
        bar.tick(1, `loss ${(lossSum / train.rows.length).toFixed(4)}`);
      }
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      const valMetrics = val ? evaluateDecoder(model, val, Math.max(cfg.batchSize, 8)) : undefined;
      const record: DecoderEpoch = { epoch, trainLoss: lossSum / train.rows.length, lr, val: valMetrics, seconds };
      history.push(record);
      const score = valMetrics ? decoderScore(valMetrics) : -record.trainLoss;
      if (score > best.score) {
        best = { score, epoch, weights: getNamedWeights(model), val: valMetrics };
        await input.onBest?.(best.weights, record);
      }
      input.onEpochEnd?.(record);
    }
  } finally {
    opt.dispose();
  }
  if (!val) return { weights: getNamedWeights(model), bestEpoch: history.length - 1, history, stoppedEarly };
  setNamedWeights(model, best.weights);
  return { weights: best.weights, bestEpoch: best.epoch, val: best.val, history, stoppedEarly };
}
