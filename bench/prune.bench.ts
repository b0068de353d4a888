// Pruning figures for the students (issue 6 §5): MACs, parameters and latency before and after,
// and how long pruning takes. One JSON line per figure on stdout.
import * as tf from '@tensorflow/tfjs';
import { onnxLatencyMs } from '../cli/commands/prune.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel } from '../models/index.ts';
import { pruneModel, type PruneOptions } from '../prune/prune.ts';

/** Input size of the students in the benchmark (the models' default). */
const INPUT_SIZE = 64;
/** The target: at least this fraction of MACs removed. */
const MACS_TARGET = 0.4;
/** tfjs forward passes timed per model, batch of TFJS_BATCH. */
const TFJS_RUNS = 10;
const TFJS_BATCH = 8;

const CASES: { arch: string; opts: PruneOptions }[] = [
  { arch: 'mobile-s', opts: { ratio: 0.3, criterion: 'l1', roundTo: 8 } },
  { arch: 'mobile-s', opts: { ratio: 0.3, criterion: 'bn', scope: 'global', roundTo: 8, minKeepFraction: 0.25 } },
  { arch: 'cnn-s', opts: { ratio: 0.25, criterion: 'l1' } },
  { arch: 'cnn-s', opts: { ratio: 0.3, criterion: 'l2', scope: 'global', roundTo: 8, minKeepFraction: 0.25 } },
];

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'prune', figure, value: Number(value.toPrecision(6)), unit, ...extra })}\n`);
}

/** Median ms of a batch forward pass in tfjs on the chosen backend. */
function tfjsLatencyMs(model: tf.LayersModel): number {
  const x = tf.ones([TFJS_BATCH, INPUT_SIZE, INPUT_SIZE, 1]);
  const times: number[] = [];
  for (let i = 0; i < TFJS_RUNS + 2; i++) {
    const t0 = performance.now();
    const y = model.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
    if (i >= 2) times.push(performance.now() - t0);
  }
  x.dispose();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const backend = await initBackend();
for (const { arch, opts } of CASES) {
  const model = buildModel(arch, { inputSize: INPUT_SIZE });
  const t0 = performance.now();
  const r = await pruneModel(model, opts);
  const pruneMs = performance.now() - t0;
  const tags = { arch, ...r.report.settings, backend: backend.name };
  emit('macs_before', r.report.before.macs, 'MACs', tags);
  emit('macs_after', r.report.after.macs, 'MACs', tags);
  emit('macs_reduction', r.report.reduction.macs, 'fraction', { ...tags, target: MACS_TARGET, met: r.report.reduction.macs >= MACS_TARGET });
  emit('params_reduction', r.report.reduction.params, 'fraction', { ...tags, before: r.report.before.params, after: r.report.after.params });
  emit('prune_time', pruneMs, 'ms', tags);
  emit('tfjs_latency_before', tfjsLatencyMs(model), `ms per batch of ${TFJS_BATCH}`, tags);
  emit('tfjs_latency_after', tfjsLatencyMs(r.model), `ms per batch of ${TFJS_BATCH}`, tags);
  emit('onnx_latency_before', await onnxLatencyMs(model), 'ms, median, batch 1, ORT 1 thread', tags);
  emit('onnx_latency_after', await onnxLatencyMs(r.model), 'ms, median, batch 1, ORT 1 thread', tags);
}
