import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.ts';
import { augment, type AugmentConfig } from '../data/index.ts';
import { subset } from './split.ts';
import type { Batch, ImageSet } from './types.ts';

/** Row indices 0…n−1 in an order drawn from `rng` (Fisher–Yates). */
export function shuffledOrder(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Splits `order` into consecutive batches of at most `batchSize` rows. */
export function batchRanges(order: readonly number[], batchSize: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) out.push(order.slice(i, i + batchSize));
  return out;
}

/** A batch's rows as plain arrays, before they become tensors (makeBatch) or shards for replicas (train/replicas.ts). */
export interface BatchArrays {
  rows: number;
  size: number;
  channels: number;
  x: Float32Array;
  labels: Int32Array;
  /** Teacher logits, rows × classes. */
  softLabels?: { data: Float32Array; classes: number };
  /** 0/1 masks, rows × size × size. */
  masks?: Float32Array;
}

/**
 * Gathers rows of `set` (and of `softLabels`, N × classes) into arrays, augmenting each image
 * with `rng` when `augment` is given, in row order.
 */
export function batchArrays(set: ImageSet, rows: readonly number[], opts: { softLabels?: Float32Array; numClasses?: number; augment?: AugmentConfig; rng?: Rng } = {}): BatchArrays {
  const { x, labels, masks } = subset(set, rows);
  if (masks) for (let j = 0; j < masks.length; j++) masks[j] = masks[j] !== 0 ? 1 : 0;
  if (opts.augment && opts.rng) for (let i = 0; i < rows.length; i++) augmentImage(x, masks, i, set, opts.augment, opts.rng);
  const out: BatchArrays = { rows: rows.length, size: set.size, channels: set.channels, x, labels, ...(masks ? { masks } : {}) };
  if (opts.softLabels) {
    const k = opts.numClasses ?? opts.softLabels.length / set.n;
    const soft = new Float32Array(rows.length * k);
    const src = opts.softLabels;
    rows.forEach((r, i) => soft.set(src.subarray(r * k, (r + 1) * k), i * k));
    out.softLabels = { data: soft, classes: k };
  }
  return out;
}

/** The tensors of a batch's arrays. The caller disposes the batch. */
export function batchTensors(a: BatchArrays): Batch {
  const batch: Batch = {
    x: tf.tensor4d(a.x, [a.rows, a.size, a.size, a.channels]),
    labels: tf.tensor1d(a.labels, 'int32'),
  };
  if (a.masks) batch.masks = tf.tensor4d(a.masks, [a.rows, a.size, a.size, 1]);
  if (a.softLabels) batch.softLabels = tf.tensor2d(a.softLabels.data, [a.rows, a.softLabels.classes]);
  return batch;
}

/**
 * Gathers rows of `set` (and of `softLabels`, N × classes) into a Batch of tensors,
 * augmenting each image with `rng` when `augment` is given. The caller disposes the batch.
 */
export function makeBatch(set: ImageSet, rows: readonly number[], opts: { softLabels?: Float32Array; numClasses?: number; augment?: AugmentConfig; rng?: Rng } = {}): Batch {
  return batchTensors(batchArrays(set, rows, opts));
}

/** Augments row `i` of a batch with data/'s augmentation, writing back into the batch arrays. */
function augmentImage(x: Float32Array, masks: Float32Array | undefined, i: number, set: ImageSet, cfg: AugmentConfig, rng: Rng): void {
  const px = set.size * set.size;
  const stride = px * set.channels;
  const img = x.slice(i * stride, (i + 1) * stride);
  const mask = masks?.slice(i * px, (i + 1) * px);
  augment(img, mask, set.size, set.channels, cfg, rng);
  x.set(img, i * stride);
  if (mask) masks?.set(mask, i * px);
}

/** Disposes every tensor of a batch. */
export function disposeBatch(b: Batch): void {
  const all: (tf.Tensor | undefined)[] = [b.x, b.labels, b.softLabels, b.masks];
  tf.dispose(all.filter((t): t is tf.Tensor => t !== undefined));
}
