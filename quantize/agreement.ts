import { openSession, type FloatTensor } from '../runtime/session.ts';

/** Images as data/ gives them: N·H·W·C float32, image after image, with labels. */
export interface LabelledImages {
  n: number;
  size: number;
  channels: number;
  x: Float32Array;
  labels: Int32Array;
}

/** Batch size used to run test sets and calibration images. */
export const EVAL_BATCH = 32;

/** NHWC images [from, to) as one NCHW batch (the ONNX input layout, docs/CONTRACTS.md). */
export function nchwBatch(set: Omit<LabelledImages, 'labels'>, from: number, to: number): FloatTensor {
  const { size, channels: c } = set;
  const hw = size * size;
  const out = new Float32Array((to - from) * c * hw);
  for (let i = from; i < to; i++) {
    const src = i * hw * c;
    const dst = (i - from) * c * hw;
    for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) out[dst + k * hw + p] = set.x[src + p * c + k];
  }
  return { data: out, dims: [to - from, c, size, size] };
}

/** All images of a set as NCHW batches of at most `batch`. */
export function nchwBatches(set: Omit<LabelledImages, 'labels'>, batch = EVAL_BATCH): FloatTensor[] {
  const out: FloatTensor[] = [];
  for (let i = 0; i < set.n; i += batch) out.push(nchwBatch(set, i, Math.min(set.n, i + batch)));
  return out;
}

/** Logits [N × K] of an ONNX classifier on every image of `set` (CPU provider). */
export async function modelLogits(model: Uint8Array, set: Omit<LabelledImages, 'labels'>): Promise<{ logits: Float32Array; classes: number }> {
  const s = await openSession(model, { provider: 'cpu' });
  try {
    const parts: Float32Array[] = [];
    let classes = 0;
    for (const b of nchwBatches(set)) {
      const out = (await s.run({ [s.inputNames[0]]: b }))[s.outputNames[0]];
      classes = out.dims[1];
      parts.push(out.data.slice());
    }
    const logits = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) logits.set(p, (o += p.length) - p.length);
    return { logits, classes };
  } finally {
    await s.release();
  }
}

function argmax(row: ArrayLike<number>, from: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (row[from + j] > row[from + best]) best = j;
  return best;
}

/**
 * AUC of class 1 as the Mann–Whitney U statistic over the score logit₁ − logit₀ (ties count
 * one half); NaN when one class is absent.
 */
export function binaryAuc(logits: Float32Array, classes: number, labels: Int32Array): number {
  const n = labels.length;
  const score = Array.from({ length: n }, (_, i) => logits[i * classes + 1] - logits[i * classes]);
  const order = score.map((_, i) => i).sort((a, b) => score[a] - score[b]);
  let rankSumPos = 0;
  let pos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && score[order[j]] === score[order[i]]) j++;
    const rank = (i + 1 + j) / 2; // mean 1-based rank of the tie group
    for (let k = i; k < j; k++) {
      if (labels[order[k]] !== 1) continue;
      rankSumPos += rank;
      pos++;
    }
    i = j;
  }
  const neg = n - pos;
  return pos && neg ? (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg) : NaN;
}

/** Share of images whose arg-max class is their label. */
export function accuracy(logits: Float32Array, classes: number, labels: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (argmax(logits, i * classes, classes) === labels[i]) ok++;
  return labels.length ? ok / labels.length : NaN;
}

/** Share of images on which two models pick the same class. */
export function top1Agreement(a: Float32Array, b: Float32Array, classes: number): number {
  const n = a.length / classes;
  let same = 0;
  for (let i = 0; i < n; i++) if (argmax(a, i * classes, classes) === argmax(b, i * classes, classes)) same++;
  return n ? same / n : NaN;
}

/** max |a − b| over all logits. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
