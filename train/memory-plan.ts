import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';

/** Bytes of a float32 value, and of a float16 one. */
const F32 = 4;
const F16 = 2;
/** Adam keeps two moment buffers per weight. */
const ADAM_SLOTS = 2;
/**
 * Live float32 copies of each layer's output at the peak of a training step: the forward tape
 * keeps the output and the backward pass holds its gradient plus some temporaries. Fitted to
 * tf.profile's peak on the decoder at three sizes (2.5–2.7); test/train/memory-plan.test.ts
 * checks the estimate stays within 20% of the measured peak.
 */
export const ACTIVATION_COPIES = 2.6;
/** Elementwise tensors of the Dice + BCE loss per output pixel (sigmoid, products, logs, their gradients). */
export const LOSS_COPIES = 12;
/** Batch sizes the planner picks from. */
export const BATCH_CHOICES = [1, 2, 4, 8, 16, 32, 64] as const;

/** What the planner needs to know about a run. */
export interface MemoryInputs {
  /** Training and validation images whose embeddings are cached. */
  images: number;
  /** Bytes per cached embedding value: 2 (float16, the file's) by default, 4 when decoded to float32 once per run. */
  embeddingBytes?: number;
  embedShape: [number, number, number];
  imageSize: number;
  /** Decoder weights (values) and the values every layer outputs per image. */
  params: number;
  activationsPerImage: number;
  /** Memory the process holds before training (runtime, libraries); measured RSS by default. */
  baselineBytes: number;
}

/** The planner's estimate of a run's peak memory, by part, in bytes. */
export interface MemoryEstimate {
  batchSize: number;
  caching: 'memory' | 'stream';
  embeddings: number;
  masks: number;
  weights: number;
  gradients: number;
  optimizer: number;
  batch: number;
  activations: number;
  /** Peak bytes of tfjs tensors (weights, gradients, optimiser, batch, activations): what tf.memory() sees. */
  tensorPeak: number;
  /** Everything plus the baseline: the expected peak RSS. */
  total: number;
}

/** Values one image's layer outputs hold, from a model's layer graph (inputs excluded). */
export function activationValues(model: tf.LayersModel): number {
  let sum = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    for (const s of shapes) sum += s.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
  }
  return sum;
}

/** The estimate for one batch size and caching choice. */
export function estimateMemory(m: MemoryInputs, batchSize: number, caching: 'memory' | 'stream'): MemoryEstimate {
  const [h, w, c] = m.embedShape;
  const px = m.imageSize ** 2;
  const embeddings = caching === 'memory' ? m.images * h * w * c * (m.embeddingBytes ?? F16) : h * w * c * F16;
  const masks = m.images * px * F32;
  const weights = m.params * F32;
  const gradients = m.params * F32;
  const optimizer = m.params * F32 * ADAM_SLOTS;
  const batch = batchSize * (h * w * c + 2 * px) * F32;
  const activations = batchSize * (m.activationsPerImage * ACTIVATION_COPIES + px * LOSS_COPIES) * F32;
  const tensorPeak = weights + gradients + optimizer + batch + activations;
  return { batchSize, caching, embeddings, masks, weights, gradients, optimizer, batch, activations, tensorPeak, total: m.baselineBytes + embeddings + masks + tensorPeak };
}

/**
 * Chooses the batch size and the embedding caching for a memory budget: the largest batch
 * size up to `maxBatch` (and the training set) whose estimated peak fits with the embeddings
 * in memory, else the largest that fits with them streamed from disk. A fixed `batchSize` is
 * kept; a budget nothing fits is a UserError naming the smallest need.
 */
export function planMemory(m: MemoryInputs, budget: number, opts: { maxBatch: number; trainImages: number; batchSize?: number }): MemoryEstimate {
  const cap = Math.max(1, Math.min(opts.maxBatch, opts.trainImages));
  const sizes = opts.batchSize ? [opts.batchSize] : BATCH_CHOICES.filter((b) => b <= cap).reverse();
  for (const caching of ['memory', 'stream'] as const) {
    for (const b of sizes) {
      const e = estimateMemory(m, b, caching);
      if (e.total <= budget) return e;
    }
  }
  const least = estimateMemory(m, sizes[sizes.length - 1], 'stream');
  throw new UserError(`the run needs about ${formatBytes(least.total)} (batch ${least.batchSize}, embeddings streamed), more than the memory budget of ${formatBytes(budget)}`);
}

/** Parses a size such as `8GB`, `512MB`, `1.5GiB` or `1000000` (bytes); K/M/G/T count in 1024s. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new UserError(`cannot read the size '${text}' (e.g. 8GB, 512MB)`);
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** Bytes as MiB or GiB with one decimal. */
export function formatBytes(b: number): string {
  return b >= 1024 ** 3 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;
}
