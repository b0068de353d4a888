import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSession, type FloatTensor, type ModelSession } from '../runtime/session.ts';
import { decodeModel, type GraphProto, type NodeProto } from './qdq/onnx-tensors.ts';

/** Timed runs per latency figure (after WARMUP_RUNS untimed ones); the median is reported. */
export const LATENCY_RUNS = 15;
export const WARMUP_RUNS = 3;

/** Options of the latency measurements. */
export interface LatencyOptions {
  runs?: number;
  warmup?: number;
  /** Intra-op threads (default: ORT's choice). */
  threads?: number;
}

/** A deterministic NCHW batch in [0, 1) for timing (values do not change the work done). */
export function timingBatch(dims: readonly number[]): FloatTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
  return { data, dims: [...dims] };
}

/** The median of `xs` (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The order in which round `round` runs `n` models: 0…n−1 rotated by the round, so each model
 * runs first (and after each other model) equally often and none always follows the same one.
 */
export function roundOrder(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + round) % n);
}

/**
 * Median wall-clock milliseconds of one run of each model on a batch of shape `dims` (CPU
 * provider), measured interleaved: every session is open and warm before timing starts, then
 * each of `runs` rounds runs every model once (roundOrder). Models timed one after another see
 * whatever load the shared CPU had at their turn, and a comparison between them measured that
 * load as often as the models (a "3× faster" INT8 model that the report then timed slower);
 * interleaved, a load that comes and goes falls on all of them alike.
 */
export async function measureLatencies(models: readonly (Uint8Array | string)[], dims: readonly number[], o: LatencyOptions = {}): Promise<number[]> {
  const sessions: ModelSession[] = [];
  try {
    for (const m of models) sessions.push(await openSession(m, { provider: 'cpu', ...(o.threads ? { threads: o.threads } : {}) }));
    const batch = timingBatch(dims);
    const feeds = sessions.map((s) => ({ [s.inputNames[0]]: batch }));
    for (let i = 0; i < (o.warmup ?? WARMUP_RUNS); i++) for (const [k, s] of sessions.entries()) await s.run(feeds[k]);
    const times = sessions.map((): number[] => []);
    for (let r = 0; r < (o.runs ?? LATENCY_RUNS); r++) {
      for (const k of roundOrder(sessions.length, r)) {
        const t0 = performance.now();
        await sessions[k].run(feeds[k]);
        times[k].push(performance.now() - t0);
      }
    }
    return times.map(median);
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** One event of ORT's profile (Chrome trace format); node events have cat 'Node'. */
export interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Activations ORT fuses into the Conv/Gemm before them. */
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);
const WEIGHTED = new Set(['Conv', 'ConvTranspose', 'Gemm']);

/**
 * Maps ORT's node names back to fedkd layers for a model's graph. Export names nodes
 * `<layer>#<op>` and ORT keeps that name on fused nodes (adding `_token_N`); its NCHWc
 * rewrite names a node `<output tensor>_nchwc`, traced here to the producing layer (through a
 * fused ReLU/Clip to its Conv). Quantize/Dequantize nodes left at FP32/INT8 boundaries count
 * as '(quantize)', nodes ORT made up (layout reorders) as '(runtime)'.
 */
export function nodeLayerResolver(graph: GraphProto): (ortName: string) => string {
  const producer = new Map<string, NodeProto>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const layerOfTensor = (t: string): string => {
    let n = producer.get(t);
    if (n && FUSED_ACTIVATIONS.has(n.opType ?? '')) {
      const p = producer.get(n.input?.[0] ?? '');
      if (p && WEIGHTED.has(p.opType ?? '')) n = p;
    }
    return n ? (n.name ?? '').split('#')[0] : '(runtime)';
  };
  return (ortName) => {
    const name = ortName.replace(/_token_\d+$/, '');
    if (name.includes('#')) return name.slice(0, name.indexOf('#'));
    const nchwc = /^(.*)_nchwc$/.exec(name);
    if (nchwc) return layerOfTensor(nchwc[1]);
    return /_(QuantizeLinear|dequantized)$/.test(name) ? '(quantize)' : '(runtime)';
  };
}

/**
 * Microseconds per run spent in each layer's nodes: the kernel-time events of `runs` runs
 * (in order, the same nodes each run), summed per layer within a run, median over runs — a
 * run preempted on a busy machine does not move it.
 */
export function layerTimes(events: readonly ProfileEvent[], runs: number, layerOf: (ortName: string) => string): Map<string, number> {
  const kernels = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
  const perRun = kernels.length / runs;
  const samples = new Map<string, number[]>();
  for (let r = 0; r < runs; r++) {
    const sums = new Map<string, number>();
    for (const e of kernels.slice(Math.round(r * perRun), Math.round((r + 1) * perRun))) {
      const layer = layerOf(e.name!.slice(0, -'_kernel_time'.length));
      sums.set(layer, (sums.get(layer) ?? 0) + (e.dur ?? 0));
    }
    for (const [l, us] of sums) samples.set(l, [...(samples.get(l) ?? []), us]);
  }
  return new Map([...samples].map(([l, xs]) => [l, median([...xs, ...new Array<number>(runs - xs.length).fill(0)])]));
}

/**
 * Profiles `model` with ORT (CPU, optimisations on) for `runs` runs after warm-up and returns
 * the time per layer per run, in microseconds (layerTimes, nodeLayerResolver). The profile file is removed.
 */
export async function profileLayers(model: Uint8Array, dims: readonly number[], o: LatencyOptions = {}): Promise<Map<string, number>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedkd-profile-'));
  const runs = o.runs ?? LATENCY_RUNS;
  try {
    const s = await openSession(model, { provider: 'cpu', profile: true, profilePrefix: path.join(dir, 'ort'), ...(o.threads ? { threads: o.threads } : {}) });
    const feeds = { [s.inputNames[0]]: timingBatch(dims) };
    const warm = o.warmup ?? WARMUP_RUNS;
    for (let i = 0; i < warm + runs; i++) await s.run(feeds);
    const file = s.endProfiling() ?? path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.json')) ?? '');
    await s.release();
    const events = JSON.parse(await readFile(file, 'utf8')) as ProfileEvent[];
    // ORT starts profiling at session creation: drop the warm-up runs' events
    const perRun = events.filter((e) => e.cat === 'Node' && e.name?.endsWith('_kernel_time'));
    const nodesPerRun = perRun.length / (warm + runs);
    return layerTimes(perRun.slice(Math.round(nodesPerRun * warm)), runs, nodeLayerResolver(decodeModel(model).graph!));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
