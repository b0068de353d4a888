import type { TensorRange } from './calibration/histogram.ts';
import { binaryAuc, type LabelledImages, modelLogits, top1Agreement } from './agreement.ts';
import { measureLatencies, profileLayers, type LatencyOptions } from './latency.ts';
import { quantizeWithRanges } from './qdq/index.ts';
import { decodeModel, type GraphProto } from './qdq/onnx-tensors.ts';

/** Ops whose weights quantize_with_ranges makes int8: the layers mixed precision decides on. */
const WEIGHTED_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm']);

/** The accuracy a mixed model may lose against FP32 on the evaluation images. */
export interface AccuracyBudget {
  /** Max AUC drop (used when the labels hold both classes). Default 0.005. */
  aucDrop: number;
  /** Min top-1 agreement with FP32 (used without usable labels). Default 0.99. */
  minAgreement: number;
}

/**
 * A quantized model replaces FP32 only when at least this much faster end to end: latency on a
 * shared CPU wobbles by several per cent, and a tie must not ship a model that may be slower.
 */
export const MIN_SPEEDUP = 1.1;

/** The default budget: the issue's AUC target. */
export const DEFAULT_BUDGET: AccuracyBudget = { aucDrop: 0.005, minAgreement: 0.99 };

/** What mixed precision decided for one weighted layer, and why. */
export interface LayerChoice {
  /** ONNX node name (`<layer>#<op>`), the key of keepFp32. */
  node: string;
  layer: string;
  op: string;
  /** Profiled time per run at the profiling batch, microseconds. */
  fp32Us: number;
  int8Us: number;
  /** Mean |logit − FP32 logit| with only this layer (and its fused activation) in INT8: its own accuracy cost. */
  error: number;
  precision: 'int8' | 'fp32';
  reason: string;
}

/** The outcome: the chosen model and its per-layer table. */
export interface MixedResult {
  /** 'int8' when every layer stayed INT8, 'fp32' when no quantized model beat FP32. */
  chosen: 'int8' | 'mixed' | 'fp32';
  bytes: Uint8Array;
  keepFp32: Set<string>;
  /** The mixed candidate (the weighted layers marked fp32 in `layers` kept FP32), whether chosen or not. */
  mixedBytes: Uint8Array;
  layers: LayerChoice[];
  /** End-to-end median latency at the profiling batch, ms. */
  latencyMs: { fp32: number; int8: number; mixed: number };
  /** Accuracy of the chosen keep set on the evaluation images. */
  auc: { fp32: number; mixed: number };
  agreement: number;
  reason: string;
}

/** Options of chooseMixedPrecision. */
export interface MixedOptions extends LatencyOptions {
  /** NCHW dims of the profiling batch, e.g. [32, 1, 64, 64]. */
  dims: number[];
  /** Labelled images for the accuracy budget (e.g. a held-out split). */
  evalSet: LabelledImages;
  budget?: AccuracyBudget;
  /** Per-layer profiler (default: ORT profiling, profileLayers); injectable for tests. */
  profiler?: (model: Uint8Array, dims: number[]) => Promise<Map<string, number>>;
  /** End-to-end latency in ms of each model, measured together (default: measureLatencies, interleaved); injectable for tests. */
  timer?: (models: Uint8Array[], dims: number[]) => Promise<number[]>;
}

/** The Relu/Clip that reads a weighted node's output alone (ORT fuses it into the INT8 kernel). */
function fusedInto(graph: GraphProto, node: string): Set<string> {
  const n = (graph.node ?? []).find((x) => x.name === node);
  const readers = (graph.node ?? []).filter((x) => (x.input ?? []).includes(n?.output?.[0] ?? ''));
  return new Set(readers.length === 1 && /^(Relu|Clip)$/.test(readers[0].opType ?? '') ? [readers[0].name ?? ''] : []);
}

/**
 * `fp32Layers` plus every unweighted node (activation, pool, flatten) whose inputs all come
 * from FP32 nodes, so no Q/DQ pair sits between two FP32 layers (keepFp32 of insertQdq).
 */
export function expandFp32(graph: GraphProto, fp32Layers: ReadonlySet<string>): Set<string> {
  const keep = new Set(fp32Layers);
  const producer = new Map<string, string>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n.name ?? '');
  for (const n of graph.node ?? []) {
    if (WEIGHTED_OPS.has(n.opType ?? '')) continue;
    const acts = (n.input ?? []).filter((t) => producer.has(t));
    if (acts.length > 0 && acts.every((t) => keep.has(producer.get(t)!))) keep.add(n.name ?? '');
  }
  return keep;
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return a.length ? s / a.length : 0;
}

/**
 * Mixed precision's accuracy-and-profile half: which layers stay FP32 and whether the INT8 and
 * mixed models meet the budget. End-to-end latency, which decides between them, is left to
 * choosePrecision so a caller can decide on the same timings it reports.
 */
export interface MixedPlan {
  fp32: Uint8Array;
  int8: Uint8Array;
  /** The mixed candidate (the weighted layers marked fp32 in `layers` kept FP32). */
  mixedBytes: Uint8Array;
  keepFp32: Set<string>;
  /** Every weighted node: the keep set of FP32. */
  all: Set<string>;
  layers: LayerChoice[];
  int8Ok: boolean;
  mixedOk: boolean;
  auc: { fp32: number; mixed: number };
  agreement: number;
}

/**
 * Latency-aware mixed precision, steps (1) and (2). (1) ORT profiles FP32 and INT8 per layer; a
 * layer whose INT8 kernel is not faster stays FP32. (2) Each layer's own accuracy cost is
 * measured with only it in INT8; while the model misses the budget, the costliest INT8 layer
 * goes back to FP32 (greedy, as in HAQ-style sensitivity ordering; Wang et al. 2019, "HAQ:
 * Hardware-Aware Automated Quantization with Mixed Precision"). Step (3) is choosePrecision.
 */
export async function planMixedPrecision(fp32: Uint8Array, ranges: ReadonlyMap<string, TensorRange>, o: Omit<MixedOptions, 'timer'>): Promise<MixedPlan> {
  const budget = o.budget ?? DEFAULT_BUDGET;
  const graph = decodeModel(fp32).graph!;
  const nodes = (graph.node ?? []).filter((n) => WEIGHTED_OPS.has(n.opType ?? '')).map((n) => ({ node: n.name ?? '', op: n.opType ?? '', layer: (n.name ?? '').split('#')[0] }));
  const all = new Set(nodes.map((n) => n.node));
  const build = (keep: Set<string>): Uint8Array => quantizeWithRanges(fp32, ranges, { keepFp32: expandFp32(graph, keep) });
  const int8 = build(new Set());
  const profiler = o.profiler ?? ((m, d) => profileLayers(m, d, o));
  const [tFp32, tInt8] = [await profiler(fp32, o.dims), await profiler(int8, o.dims)];

  const ref = await modelLogits(fp32, o.evalSet);
  const labels = o.evalSet.labels;
  const aucFp32 = ref.classes === 2 ? binaryAuc(ref.logits, 2, labels) : NaN;
  const score = async (keep: Set<string>): Promise<{ auc: number; agreement: number; error: number; ok: boolean }> => {
    const out = await modelLogits(build(keep), o.evalSet);
    const auc = ref.classes === 2 ? binaryAuc(out.logits, 2, labels) : NaN;
    const agreement = top1Agreement(out.logits, ref.logits, ref.classes);
    const ok = Number.isFinite(aucFp32) ? aucFp32 - auc <= budget.aucDrop : agreement >= budget.minAgreement;
    return { auc, agreement, error: meanAbsDiff(out.logits, ref.logits), ok };
  };

  const layers: LayerChoice[] = [];
  for (const n of nodes) {
    const others = new Set((graph.node ?? []).map((x) => x.name ?? '').filter((x) => x !== n.node && !fusedInto(graph, n.node).has(x)));
    const { error } = await score(others);
    const fp32Us = tFp32.get(n.layer) ?? 0;
    const int8Us = tInt8.get(n.layer) ?? 0;
    const slower = int8Us >= fp32Us;
    const reason = slower ? `INT8 not faster (${int8Us.toFixed(0)} µs vs ${fp32Us.toFixed(0)} µs FP32)` : `INT8 ${(fp32Us / Math.max(int8Us, 1e-9)).toFixed(2)}× faster (${int8Us.toFixed(0)} vs ${fp32Us.toFixed(0)} µs), error ${error.toExponential(2)}`;
    layers.push({ ...n, fp32Us, int8Us, error, precision: slower ? 'fp32' : 'int8', reason });
  }
  const keep = new Set(layers.filter((l) => l.precision === 'fp32').map((l) => l.node));
  let s = await score(keep);
  for (const l of [...layers].filter((x) => x.precision === 'int8').sort((a, b) => b.error - a.error)) {
    if (s.ok) break;
    keep.add(l.node);
    l.precision = 'fp32';
    l.reason = `largest remaining accuracy cost (error ${l.error.toExponential(2)} alone); FP32 to meet the budget`;
    s = await score(keep);
  }
  const int8Ok = keep.size === 0 ? s.ok : (await score(new Set())).ok;
  return { fp32, int8, mixedBytes: build(keep), keepFp32: keep, all, layers, int8Ok, mixedOk: s.ok && keep.size > 0 && keep.size < all.size, auc: { fp32: aucFp32, mixed: s.auc }, agreement: s.agreement };
}

/**
 * Step (3), a pure choice: the fastest model within the budget, which must beat FP32 end to end
 * by MIN_SPEEDUP, else FP32. A layer kept FP32 between INT8 layers also leaves its INT8
 * predecessor unfused (that output stays float; with a Q there, ORT would quantize the
 * float-weight Conv between DQ and Q itself), so the end-to-end timing is what decides.
 * `latencyMs` are medians at a batch of `batch` (mixed: NaN when there is no mixed candidate).
 */
export function choosePrecision(plan: MixedPlan, latencyMs: { fp32: number; int8: number; mixed: number }, batch: number): Pick<MixedResult, 'chosen' | 'bytes' | 'keepFp32' | 'reason'> {
  const candidates: { chosen: MixedResult['chosen']; ms: number; bytes: Uint8Array; keep: Set<string> }[] = [{ chosen: 'fp32', ms: latencyMs.fp32, bytes: plan.fp32, keep: plan.all }];
  if (plan.int8Ok) candidates.push({ chosen: 'int8', ms: latencyMs.int8, bytes: plan.int8, keep: new Set() });
  if (plan.mixedOk) candidates.push({ chosen: 'mixed', ms: latencyMs.mixed, bytes: plan.mixedBytes, keep: plan.keepFp32 });
  const quantized = candidates.filter((c) => c.chosen !== 'fp32' && c.ms * MIN_SPEEDUP <= latencyMs.fp32);
  const best = quantized.length ? quantized.reduce((a, b) => (b.ms < a.ms ? b : a)) : candidates[0];
  const reason =
    best.chosen === 'fp32'
      ? `FP32 kept: ${candidates.length === 1 ? 'no quantized model met the accuracy budget' : `no quantized model within the budget was ${MIN_SPEEDUP}× faster than FP32 (${latencyMs.fp32.toFixed(2)} ms)`}`
      : `${best.chosen}: ${best.keep.size} of ${plan.all.size} layers FP32, ${(latencyMs.fp32 / best.ms).toFixed(2)}× faster than FP32 at batch ${batch}`;
  return { chosen: best.chosen, bytes: best.bytes, keepFp32: best.keep, reason };
}

/**
 * Latency-aware mixed precision: planMixedPrecision, then FP32, INT8 and the mixed candidate
 * timed together (interleaved, measureLatencies) at the profiling batch, then choosePrecision.
 */
export async function chooseMixedPrecision(fp32: Uint8Array, ranges: ReadonlyMap<string, TensorRange>, o: MixedOptions): Promise<MixedResult> {
  const plan = await planMixedPrecision(fp32, ranges, o);
  const timer = o.timer ?? ((ms, d) => measureLatencies(ms, d, o));
  const hasMixed = plan.keepFp32.size > 0;
  const t = await timer(hasMixed ? [plan.fp32, plan.int8, plan.mixedBytes] : [plan.fp32, plan.int8], o.dims);
  const latencyMs = { fp32: t[0], int8: t[1], mixed: hasMixed ? t[2] : NaN };
  const c = choosePrecision(plan, latencyMs, o.dims[0]);
  return { ...c, mixedBytes: plan.mixedBytes, layers: plan.layers, latencyMs, auc: plan.auc, agreement: plan.agreement };
}
