import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../core/rng.ts';
import type { EmbeddingFile } from '../distill/embedding-store.ts';
import { boxOfMask, jitterBox, rasterizeBox, type Box } from './box-prompt.ts';
import { dihedral, IDENTITY, mapBox, mapGrid, type Dihedral } from './dihedral.ts';

/** Where the decoder's training pairs come from: an embedding file, in memory or streamed. */
export type EmbeddingSource = Pick<EmbeddingFile, 'header' | 'masks' | 'row'>;

/**
 * Rows of an embedding source the decoder trains or is scored on: each has a non-empty mask,
 * whose tight box is the prompt (MedSAM prompts one box per object).
 */
export interface DecoderSet {
  source: EmbeddingSource;
  /** Row numbers in the source. */
  rows: number[];
  /** The tight box of each row's mask. */
  boxes: Box[];
}

/** Seeded augmentation of embedding–mask–box triples. */
export interface DecoderAugment {
  /** Draw one of the eight flips/quarter turns per pair (applied to map, mask and box alike). */
  dihedral: boolean;
  /** Largest box-edge jitter in image pixels (MedSAM: the equivalent of 20 px at 1024). */
  jitterPx: number;
  /** Gaussian noise added to the embedding map, as a fraction of its standard deviation. */
  noise: number;
}

/** The rows of `source` (all, or those listed) that have a foreground to prompt for. */
export function decoderSet(source: EmbeddingSource, candidates?: readonly number[]): DecoderSet {
  const { masks, header } = source;
  if (!masks) throw new Error('the embeddings have no masks (labels.csv needs a mask column)');
  const px = header.imageSize ** 2;
  const rows: number[] = [];
  const boxes: Box[] = [];
  for (const r of candidates ?? Array.from({ length: header.n }, (_, i) => i)) {
    const b = boxOfMask(masks, header.imageSize, r * px);
    if (!b) continue;
    rows.push(r);
    boxes.push(b);
  }
  return { source, rows, boxes };
}

/** The set restricted to its entries `picks` (indices into set.rows). */
export function pickRows(set: DecoderSet, picks: readonly number[]): DecoderSet {
  return { source: set.source, rows: picks.map((i) => set.rows[i]), boxes: picks.map((i) => set.boxes[i]) };
}

/** One mini-batch of the decoder: embedding maps, box prompts at image resolution, target masks. */
export interface DecoderBatch {
  embedding: tf.Tensor4D;
  box: tf.Tensor4D;
  masks: tf.Tensor4D;
}

/**
 * Gathers entries `picks` of `set` into tensors. With `augment` and `rng`, each pair gets its
 * own dihedral element (the same for map, mask and box), box jitter and embedding noise, drawn
 * in a fixed order so a seed repeats. The caller disposes the batch.
 */
export function makeDecoderBatch(set: DecoderSet, picks: readonly number[], augment?: DecoderAugment, rng?: Rng): DecoderBatch {
  const { height: h, width: w, channels: c, imageSize: s } = set.source.header;
  const emb = new Float32Array(picks.length * h * w * c);
  const box = new Float32Array(picks.length * s * s);
  const masks = new Float32Array(picks.length * s * s);
  picks.forEach((p, i) => {
    const row = set.rows[p];
    let map: Float32Array = set.source.row(row);
    let mask: Float32Array = Float32Array.from((set.source.masks as Float32Array).subarray(row * s * s, (row + 1) * s * s), (v) => (v !== 0 ? 1 : 0));
    let b = set.boxes[p];
    const d: Dihedral = augment?.dihedral && rng ? dihedral(rng.int(8)) : IDENTITY;
    if (d !== IDENTITY) {
      map = mapGrid(d, map, h, c);
      mask = mapGrid(d, mask, s, 1);
      b = mapBox(d, b, s);
    }
    if (augment && rng && augment.jitterPx > 0) b = jitterBox(b, augment.jitterPx, s, rng);
    if (augment && rng && augment.noise > 0) addNoise(map, augment.noise, rng);
    emb.set(map, i * h * w * c);
    masks.set(mask, i * s * s);
    rasterizeBox(b, s, box, i * s * s);
  });
  return {
    embedding: tf.tensor4d(emb, [picks.length, h, w, c]),
    box: tf.tensor4d(box, [picks.length, s, s, 1]),
    masks: tf.tensor4d(masks, [picks.length, s, s, 1]),
  };
}

/** Adds N(0, (σ·fraction)²) noise, σ the map's own standard deviation. */
function addNoise(map: Float32Array, fraction: number, rng: Rng): void {
  let sum = 0;
  let sq = 0;
  for (const v of map) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / map.length;
  const sd = Math.sqrt(Math.max(0, sq / map.length - mean * mean)) * fraction;
  for (let i = 0; i < map.length; i++) map[i] += sd * rng.normal();
}

/** Frees a batch's tensors. */
export function disposeDecoderBatch(b: DecoderBatch): void {
  tf.dispose([b.embedding, b.box, b.masks]);
}
