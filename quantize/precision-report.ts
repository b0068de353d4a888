import { accuracy, binaryAuc, type LabelledImages, maxAbsDifference, modelLogits, top1Agreement } from './agreement.ts';
import { measureLatencies, type LatencyOptions } from './latency.ts';
import type { LayerChoice } from './mixed.ts';

/** The precisions a report compares. */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'mixed';

/** One model of the comparison. */
export interface PrecisionVariant {
  precision: Precision;
  bytes: Uint8Array;
}

/** A named labelled test set (e.g. one site's test split). */
export interface TestSet {
  name: string;
  images: LabelledImages;
}

/** Accuracy of one variant on one test set. */
export interface TestScore {
  name: string;
  n: number;
  /** Class-1 AUC for two-class models (null otherwise or with one class present). */
  auc: number | null;
  accuracy: number;
}

/**
 * One row of the precision report. `precision` and `latencyMs.{batch1,batch32}` are what the
 * runtime reads from report.json (docs/CONTRACTS.md); the rest is for the deployer.
 */
export interface PrecisionRow {
  precision: Precision;
  fileBytes: number;
  /** File size relative to FP32. */
  sizeRatio: number;
  /** Median CPU milliseconds per batch. */
  latencyMs: { batch1: number; batch32: number };
  /** FP32 latency ÷ this latency at batch 32 (>1: faster). */
  speedupBatch32: number;
  /** Over all test images pooled. */
  auc: number | null;
  accuracy: number;
  tests: TestScore[];
  /** max |logit − FP32 logit| over all test images. */
  maxLogitDiff: number;
  /** Share of test images where the arg-max class equals FP32's. */
  top1Agreement: number;
}

/** The whole report, written as JSON beside the model (report.json). */
export interface PrecisionReport {
  model: string;
  input: number[];
  calibration: { method: string; source: string; images: number | null };
  rows: PrecisionRow[];
  /** The precision `--out` holds and why (mixed precision's verdict). */
  chosen: { precision: Precision; reason: string };
  layers: LayerChoice[];
  budget: { aucDrop: number };
  /** Where ORT computes the FP16 model on this CPU (fp16Compute). */
  fp16Compute: 'float16' | 'float32';
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

function pooled(sets: readonly TestSet[]): LabelledImages {
  const { size, channels } = sets[0].images;
  const x = new Float32Array(sets.reduce((a, s) => a + s.images.x.length, 0));
  const labels = new Int32Array(sets.reduce((a, s) => a + s.images.n, 0));
  let xo = 0;
  let lo = 0;
  for (const s of sets) {
    x.set(s.images.x, xo);
    labels.set(s.images.labels, lo);
    xo += s.images.x.length;
    lo += s.images.n;
  }
  return { n: labels.length, size, channels, x, labels };
}

/**
 * Measures every variant: file size, median latency at batch 1 and 32 (CPU; all variants timed
 * together, interleaved, so their ratios are not the machine's load), AUC/accuracy on
 * each test set and pooled, max logit difference and top-1 agreement with the first variant
 * (FP32, the reference). `chw` is the model's [C, H, W].
 */
export async function precisionRows(variants: readonly PrecisionVariant[], tests: readonly TestSet[], chw: readonly number[], o: LatencyOptions = {}): Promise<PrecisionRow[]> {
  if (tests.length === 0) throw new Error('the precision report needs at least one test set');
  const all = pooled(tests);
  const offsets = tests.map((_, i) => tests.slice(0, i).reduce((a, s) => a + s.images.n, 0));
  const rows: PrecisionRow[] = [];
  let ref: Float32Array | undefined;
  const models = variants.map((v) => v.bytes);
  const [batch1, batch32] = [await measureLatencies(models, [1, ...chw], o), await measureLatencies(models, [32, ...chw], o)];
  for (const [k, v] of variants.entries()) {
    const { logits, classes } = await modelLogits(v.bytes, all);
    ref ??= logits;
    const score = (lg: Float32Array, labels: Int32Array): { auc: number | null; accuracy: number } => ({ auc: classes === 2 ? finite(binaryAuc(lg, 2, labels)) : null, accuracy: accuracy(lg, classes, labels) });
    const perSet = tests.map((t, i) => ({ name: t.name, n: t.images.n, ...score(logits.subarray(offsets[i] * classes, (offsets[i] + t.images.n) * classes), t.images.labels) }));
    const latencyMs = { batch1: batch1[k], batch32: batch32[k] };
    rows.push({
      precision: v.precision,
      fileBytes: v.bytes.length,
      sizeRatio: v.bytes.length / variants[0].bytes.length,
      latencyMs,
      speedupBatch32: (rows[0]?.latencyMs.batch32 ?? latencyMs.batch32) / latencyMs.batch32,
      ...score(logits, all.labels),
      tests: perSet,
      maxLogitDiff: maxAbsDifference(logits, ref),
      top1Agreement: top1Agreement(logits, ref, classes),
    });
  }
  return rows;
}

/** The report as a table (columns and rows), for the terminal, Markdown or CSV. */
export function reportTable(r: PrecisionReport): { columns: string[]; rows: (string | number)[][] } {
  const columns = ['precision', 'size KiB', '×FP32', 'b1 ms', 'b32 ms', 'b32 speed-up', 'AUC', 'accuracy', 'max |Δlogit|', 'top-1 agree'];
  const rows = r.rows.map((x) => [
    x.precision + (x.precision === r.chosen.precision ? ' *' : ''),
    (x.fileBytes / 1024).toFixed(1),
    x.sizeRatio.toFixed(3),
    x.latencyMs.batch1.toFixed(2),
    x.latencyMs.batch32.toFixed(2),
    `${x.speedupBatch32.toFixed(2)}×`,
    x.auc === null ? 'n/a' : x.auc.toFixed(4),
    x.accuracy.toFixed(4),
    x.maxLogitDiff.toExponential(2),
    x.top1Agreement.toFixed(4),
  ]);
  return { columns, rows };
}

/** The per-layer decisions of mixed precision as a table. */
export function layerTable(layers: readonly LayerChoice[]): { columns: string[]; rows: (string | number)[][] } {
  return {
    columns: ['layer', 'op', 'FP32 µs', 'INT8 µs', 'error alone', 'kept', 'why'],
    rows: layers.map((l) => [l.layer, l.op, l.fp32Us.toFixed(0), l.int8Us.toFixed(0), l.error.toExponential(2), l.precision.toUpperCase(), l.reason]),
  };
}
