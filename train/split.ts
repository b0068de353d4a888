import { Rng } from '../core/rng.ts';
import type { ImageSet } from './types.ts';

/** The rows of `set` listed in `rows`, as a new set (pixels, labels and masks copied). */
export function subset(set: ImageSet, rows: readonly number[]): ImageSet {
  const stride = set.size * set.size * set.channels;
  const px = set.size * set.size;
  const x = new Float32Array(rows.length * stride);
  const labels = new Int32Array(rows.length);
  const masks = set.masks ? new Float32Array(rows.length * px) : undefined;
  rows.forEach((r, i) => {
    x.set(set.x.subarray(r * stride, (r + 1) * stride), i * stride);
    labels[i] = set.labels[r];
    masks?.set((set.masks as Float32Array).subarray(r * px, (r + 1) * px), i * px);
  });
  return { n: rows.length, size: set.size, channels: set.channels, x, labels, masks, hash: set.hash ? `${set.hash}[${rows.length}:${rows.slice(0, 4).join(',')}…]` : undefined };
}

/**
 * Splits a set into training and validation parts, stratified by label: from each class a
 * `fraction` of its rows (at least one when the class has two or more) goes to validation,
 * chosen by `seed`; the row numbers of each part are returned too. Validation rows never train, so early stopping does not peek at the test set.
 */
export function stratifiedSplit(set: ImageSet, fraction: number, seed: number): { train: ImageSet; val: ImageSet; trainRows: number[]; valRows: number[] } {
  const rng = new Rng(seed);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < set.n; i++) byClass.set(set.labels[i], [...(byClass.get(set.labels[i]) ?? []), i]);
  const valRows: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = rng.shuffle([...(byClass.get(label) as number[])]);
    const k = rows.length >= 2 ? Math.max(1, Math.round(rows.length * fraction)) : 0;
    valRows.push(...rows.slice(0, k));
  }
  const isVal = new Set(valRows);
  const trainRows = Array.from({ length: set.n }, (_, i) => i).filter((i) => !isVal.has(i));
  valRows.sort((a, b) => a - b);
  return { train: subset(set, trainRows), val: subset(set, valRows), trainRows, valRows };
}

/** Concatenates sets of equal image size and channels (pooled data of several sites). */
export function pool(sets: readonly ImageSet[]): ImageSet {
  if (!sets.length) throw new Error('pool: no datasets');
  const [first] = sets;
  for (const s of sets) {
    if (s.size !== first.size || s.channels !== first.channels) throw new Error(`pool: datasets of ${first.size}px×${first.channels} and ${s.size}px×${s.channels}`);
  }
  const withMasks = sets.every((s) => s.masks);
  const n = sets.reduce((a, s) => a + s.n, 0);
  const x = new Float32Array(sets.reduce((a, s) => a + s.x.length, 0));
  const labels = new Int32Array(n);
  const masks = withMasks ? new Float32Array(n * first.size * first.size) : undefined;
  let row = 0;
  for (const s of sets) {
    x.set(s.x, row * first.size * first.size * first.channels);
    labels.set(s.labels, row);
    if (masks && s.masks) masks.set(s.masks, row * first.size * first.size);
    row += s.n;
  }
  return { n, size: first.size, channels: first.channels, x, labels, masks, hash: sets.every((s) => s.hash) ? sets.map((s) => s.hash).join('+') : undefined };
}
