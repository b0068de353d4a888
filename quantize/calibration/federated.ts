/**
 * Federated calibration: the coordinator never sees an image, only per-tensor statistics.
 * Phase 1 ('ranges'): each site sends each tensor's min/max; the coordinator merges them and
 * fixes the histogram edges [0, max|x|]. Phase 2 ('histograms', MinMax skips it): each site
 * histograms |x| over those edges; counts add exactly, so the ranges picked from the merged
 * histograms equal single-machine calibration on the union of the sites' images.
 */
import type { NamedTensor } from '../../core/tensors.ts';
import { activationsToQuantize } from '../qdq/select.ts';
import { decodeModel } from '../qdq/onnx-tensors.ts';
import { ActivationProbe, type CalibrateOptions, type CalibrationBatches, chooseRanges, collectHistograms, collectRanges, histogramEdges } from './collect.ts';
import { type AbsHistogram, DEFAULT_BINS, emptyRange, mergeHistograms, mergeRanges, type TensorRange } from './histogram.ts';

/** What the coordinator asks a site to compute (sent in a calibrate task's config as `calibration`). */
export type CalibrationRequest = { phase: 'ranges' } | { phase: 'histograms'; edges: Record<string, number>; bins: number };

/** float32 holds integers exactly below 2^24: counts travel as hi·2^24 + lo. */
const SPLIT = 2 ** 24;

const tensor = (name: string, values: ArrayLike<number>): NamedTensor => ({ name, shape: [values.length], dtype: 'float32', data: Float32Array.from(values) });

/** Ranges as named tensors `range/<tensor>` = [min, max] (float32 activations, so exact). */
export function encodeRanges(ranges: ReadonlyMap<string, TensorRange>): NamedTensor[] {
  return [...ranges].map(([t, r]) => tensor(`range/${t}`, [r.min, r.max]));
}

/** Inverse of encodeRanges. */
export function decodeRanges(stats: readonly NamedTensor[]): Map<string, TensorRange> {
  return new Map(stats.filter((s) => s.name.startsWith('range/')).map((s) => [s.name.slice(6), { min: s.data[0], max: s.data[1] }]));
}

/** Histograms as named tensors `hist/<tensor>` = [hi, min, max, counts÷2^24 …, counts mod 2^24 …]. */
export function encodeHistograms(hists: ReadonlyMap<string, AbsHistogram>): NamedTensor[] {
  return [...hists].map(([t, h]) => {
    const n = h.counts.length;
    const v = new Float64Array(3 + 2 * n);
    v.set([h.hi, h.min, h.max]);
    for (let i = 0; i < n; i++) {
      v[3 + i] = Math.floor(h.counts[i] / SPLIT);
      v[3 + n + i] = h.counts[i] % SPLIT;
    }
    return tensor(`hist/${t}`, v);
  });
}

/** Inverse of encodeHistograms (the edge `hi` is replaced by the coordinator's, which the site used). */
export function decodeHistograms(stats: readonly NamedTensor[], edges: Record<string, number>): Map<string, AbsHistogram> {
  const out = new Map<string, AbsHistogram>();
  for (const s of stats) {
    if (!s.name.startsWith('hist/')) continue;
    const t = s.name.slice(5);
    const n = (s.data.length - 3) / 2;
    const counts = new Float64Array(n);
    for (let i = 0; i < n; i++) counts[i] = s.data[3 + i] * SPLIT + s.data[3 + n + i];
    out.set(t, { hi: edges[t] ?? s.data[0], min: s.data[1], max: s.data[2], counts });
  }
  return out;
}

/**
 * A site's answer to a calibration request: statistics of the tensors a QDQ model quantizes,
 * observed by running the FP32 model on the site's own batches. Only numbers leave.
 */
export async function siteCalibrationStats(fp32: Uint8Array, batches: CalibrationBatches, req: CalibrationRequest): Promise<NamedTensor[]> {
  const probe = await ActivationProbe.open(fp32, activationsToQuantize(decodeModel(fp32).graph!));
  try {
    if (req.phase === 'ranges') return encodeRanges(await collectRanges(probe, batches));
    const hists = await collectHistograms(probe, batches, new Map(Object.entries(req.edges)), req.bins);
    return encodeHistograms(hists);
  } finally {
    await probe.release();
  }
}

/** Coordinator, phase 1: the union's ranges (min of mins, max of maxes). */
export function mergeSiteRanges(sites: readonly NamedTensor[][]): Map<string, TensorRange> {
  const out = new Map<string, TensorRange>();
  for (const s of sites) for (const [t, r] of decodeRanges(s)) out.set(t, mergeRanges(out.get(t) ?? emptyRange(), r));
  return out;
}

/** Coordinator: the phase-2 request with fixed edges from the merged ranges. */
export function histogramRequest(merged: Map<string, TensorRange>, bins = DEFAULT_BINS): CalibrationRequest {
  return { phase: 'histograms', edges: Object.fromEntries(histogramEdges(merged)), bins };
}

/** Coordinator, phase 2: the sites' histograms summed per tensor. */
export function mergeSiteHistograms(sites: readonly NamedTensor[][], req: Extract<CalibrationRequest, { phase: 'histograms' }>): Map<string, AbsHistogram> {
  const out = new Map<string, AbsHistogram>();
  for (const s of sites) {
    for (const [t, h] of decodeHistograms(s, req.edges)) {
      const prev = out.get(t);
      out.set(t, prev ? mergeHistograms(prev, h) : h);
    }
  }
  return out;
}

/** Coordinator: the activation ranges `o.method` picks from the merged statistics (for quantizeWithRanges). */
export function federatedRanges(o: CalibrateOptions, merged: Map<string, TensorRange>, hists?: Map<string, AbsHistogram>): Map<string, TensorRange> {
  return chooseRanges(o, merged, o.method === 'minmax' ? undefined : hists);
}
