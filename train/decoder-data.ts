import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.ts';
import type { EmbeddingFile } from '../distill/embedding-store.ts';
import { boxOfMask, jitterBox, rasterizeBox, type Box } from './box-prompt.ts';
import { dihedral, mapBox, mapPoint } from './dihedral.ts';

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

/** Row `r`'s map written into `out` (a source that ignores `out` and returns its own array is copied). */
function readRow(source: EmbeddingSource, r: number, out: Float32Array): void {
  const got = source.row(r, out);
  if (got !== out) out.set(got);
}

/**
 * The maps of `rows` (every row by default) decoded once into one float32 block, so that a
 * decoder-only epoch neither reads the disk nor converts float16 again: `row` is a copy from
 * memory. Rows not cached fall through to `source`. Holds `cachedBytes(header, rows)` bytes.
 */
export function float32Source(source: EmbeddingSource, rows?: readonly number[]): EmbeddingSource {
  const { height: h, width: w, channels: c, n } = source.header;
  const len = h * w * c;
  const list = [...new Set(rows ?? Array.from({ length: n }, (_, i) => i))];
  const slot = new Int32Array(n).fill(-1);
  const block = new Float32Array(list.length * len);
  list.forEach((r, k) => {
    readRow(source, r, block.subarray(k * len, (k + 1) * len));
    slot[r] = k;
  });
  return {
    header: source.header,
    masks: source.masks,
    row(i: number, out?: Float32Array): Float32Array {
      const k = slot[i];
      if (k < 0) return source.row(i, out);
      const view = block.subarray(k * len, (k + 1) * len);
      if (!out) return view.slice();
      out.set(view);
      return out;
    },
  };
}

/** Bytes a float32Source holds for `rows` distinct rows of maps shaped as `header`'s. */
export function cachedBytes(header: EmbeddingSource['header'], rows: number): number {
  return rows * header.height * header.width * header.channels * 4;
}

/** Where each pixel of a side×side grid goes under dihedral element `k` (flat index to flat index), built once per (k, side). */
const gridMaps = new Map<string, Int32Array>();
function gridMap(k: number, side: number): Int32Array {
  const key = `${k}:${side}`;
  let m = gridMaps.get(key);
  if (!m) {
    const d = dihedral(k);
    m = new Int32Array(side * side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const [cx, cy] = mapPoint(d, x + 0.5, y + 0.5, side);
        m[y * side + x] = Math.floor(cy) * side + Math.floor(cx);
      }
    }
    gridMaps.set(key, m);
  }
  return m;
}

/** `src` (side×side×channels) moved by dihedral element `k` into `out` through its index map (as mapGrid, without the per-pixel arithmetic). */
function moveGrid(k: number, src: Float32Array, side: number, channels: number, out: Float32Array): void {
  const m = gridMap(k, side);
  if (channels === 1) {
    for (let p = 0; p < m.length; p++) out[m[p]] = src[p];
    return;
  }
  for (let p = 0; p < m.length; p++) out.set(src.subarray(p * channels, (p + 1) * channels), m[p] * channels);
}

/**
 * Gathers entries `picks` of `set` into tensors. With `augment` and `rng`, each pair gets its
 * own dihedral element (the same for map, mask and box), box jitter and embedding noise, drawn
 * in a fixed order so a seed repeats. Maps are written straight into the batch (no per-pair
 * arrays); flips and turns go through cached index maps and the noise through a fixed table of
 * normals (addNoise). The caller disposes the batch.
 */
export function makeDecoderBatch(set: DecoderSet, picks: readonly number[], augment?: DecoderAugment, rng?: Rng): DecoderBatch {
  const { height: h, width: w, channels: c, imageSize: s } = set.source.header;
  const len = h * w * c;
  const px = s * s;
  const emb = new Float32Array(picks.length * len);
  const box = new Float32Array(picks.length * px);
  const masks = new Float32Array(picks.length * px);
  const all = set.source.masks as Float32Array;
  const scratch = augment?.dihedral && rng ? { map: new Float32Array(len), mask: new Float32Array(px) } : undefined;
  picks.forEach((p, i) => {
    const row = set.rows[p];
    const map = emb.subarray(i * len, (i + 1) * len);
    const mask = masks.subarray(i * px, (i + 1) * px);
    const k = scratch && rng ? rng.int(8) : 0;
    let b = set.boxes[p];
    if (scratch && k !== 0) {
      readRow(set.source, row, scratch.map);
      moveGrid(k, scratch.map, h, c, map);
      scratch.mask.set(all.subarray(row * px, (row + 1) * px));
      moveGrid(k, scratch.mask, s, 1, mask);
      b = mapBox(dihedral(k), b, s);
    } else {
      readRow(set.source, row, map);
      mask.set(all.subarray(row * px, (row + 1) * px));
    }
    for (let j = 0; j < px; j++) mask[j] = mask[j] !== 0 ? 1 : 0;
    if (augment && rng && augment.jitterPx > 0) b = jitterBox(b, augment.jitterPx, s, rng);
    if (augment && rng && augment.noise > 0) addNoise(map, augment.noise, rng);
    rasterizeBox(b, s, box, i * px);
  });
  return {
    embedding: tf.tensor4d(emb, [picks.length, h, w, c]),
    box: tf.tensor4d(box, [picks.length, s, s, 1]),
    masks: tf.tensor4d(masks, [picks.length, s, s, 1]),
  };
}

/** Size of the table of standard normals the embedding noise reads (a power of two). */
const NORMALS = 1 << 16;
let normalTable: Float32Array | undefined;
function normals(): Float32Array {
  if (!normalTable) {
    const rng = new Rng(0x6e6f6973);
    normalTable = Float32Array.from({ length: NORMALS }, () => rng.normal());
  }
  return normalTable;
}

/**
 * Adds N(0, (σ·fraction)²) noise, σ the map's own standard deviation. The normals come from a
 * fixed table of 65,536, read from an offset and with an odd stride drawn from `rng` (two draws
 * per map instead of one normal per value), so every map gets its own seeded sequence.
 */
function addNoise(map: Float32Array, fraction: number, rng: Rng): void {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < map.length; i++) {
    sum += map[i];
    sq += map[i] * map[i];
  }
  const mean = sum / map.length;
  const sd = Math.sqrt(Math.max(0, sq / map.length - mean * mean)) * fraction;
  const table = normals();
  const offset = rng.int(NORMALS);
  const stride = 2 * rng.int(NORMALS / 2) + 1;
  for (let i = 0; i < map.length; i++) map[i] += sd * table[(offset + Math.imul(i, stride)) & (NORMALS - 1)];
}

/** Frees a batch's tensors. */
export function disposeDecoderBatch(b: DecoderBatch): void {
  tf.dispose([b.embedding, b.box, b.masks]);
}
