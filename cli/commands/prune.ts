import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { Rng } from '../../core/rng.ts';
import { initBackend } from '../../engine/backend.ts';
import type * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../../models/index.ts';
import { CRITERIA, type Criterion } from '../../prune/importance.ts';
import { pruneModel } from '../../prune/prune.ts';
import { formatReport } from '../../prune/report.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { openSession } from '../../runtime/session.ts';
import { numberIn, oneOf, positiveInt, printJson } from '../run.ts';

/** Files `fedkd prune` writes next to the pruned model. */
export const REPORT_FILE = 'prune-report.json';
export const MASKS_FILE = 'masks.json';

interface PruneFlags {
  model: string;
  out: string;
  ratio: number;
  criterion: Criterion;
  scope: 'uniform' | 'global';
  round8?: boolean;
  minChannels: number;
  exclude?: string;
  excludeStem?: boolean;
  excludeHead?: boolean;
  latency?: boolean;
  json?: boolean;
}

/** Runs timed per latency figure, after as many warm-up runs. */
const LATENCY_RUNS = 30;
const LATENCY_WARMUP = 5;

/**
 * Median latency in ms of one image through the model exported to FP32 ONNX and run by
 * ONNX Runtime (runtime/session.ts, one intra-op thread so busy machines compare fairly), on a seeded random image.
 */
export async function onnxLatencyMs(model: tf.LayersModel, runs = LATENCY_RUNS): Promise<number> {
  const session = await openSession(exportOnnx(model), { threads: 1 });
  const [, h, w, c] = model.inputs[0].shape as number[];
  const rng = new Rng(1);
  const feeds = { [session.inputNames[0]]: { data: Float32Array.from({ length: c * h * w }, () => rng.normal()), dims: [1, c, h, w] } };
  const times: number[] = [];
  for (let i = 0; i < LATENCY_WARMUP + runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (i >= LATENCY_WARMUP) times.push(performance.now() - t0);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Bytes of model.json + weights.bin in a saved model folder. */
async function folderBytes(dir: string): Promise<number> {
  const sizes = await Promise.all(['model.json', 'weights.bin'].map((f) => stat(path.join(dir, f)).then((s) => s.size)));
  return sizes[0] + sizes[1];
}

async function run(o: PruneFlags): Promise<void> {
  if (path.resolve(o.model) === path.resolve(o.out)) throw new UserError('--out must differ from --model (the original is kept)');
  await initBackend();
  const model = await loadModel(o.model);
  const exclude = o.exclude ? o.exclude.split(',').map((s) => s.trim()).filter(Boolean) : [];
  const unknown = exclude.filter((n) => !model.layers.some((l) => l.name === n));
  if (unknown.length) throw new UserError(`--exclude names no layer of the model: ${unknown.join(', ')}`);
  const result = await pruneModel(model, {
    ratio: o.ratio,
    criterion: o.criterion,
    scope: o.scope,
    roundTo: o.round8 ? 8 : 1,
    minChannels: o.minChannels,
    exclude,
    excludeStem: o.excludeStem,
    excludeHead: o.excludeHead,
  }).catch((e: Error) => {
    throw new UserError(`cannot prune ${o.model}: ${e.message}`);
  });
  await saveModel(result.model, o.out);
  const r = result.report;
  r.before.diskBytes = await folderBytes(o.model);
  r.after.diskBytes = await folderBytes(o.out);
  if (o.latency) r.extra.onnxLatencyMs = { before: await onnxLatencyMs(model), after: await onnxLatencyMs(result.model), unit: 'ms, median, batch 1, ORT 1 thread' };
  await writeFileAtomic(path.join(o.out, REPORT_FILE), `${JSON.stringify(r, null, 2)}\n`);
  await writeFileAtomic(path.join(o.out, MASKS_FILE), `${JSON.stringify(result.masks)}\n`);
  if (o.json) return printJson({ out: o.out, settings: r.settings, before: r.before, after: r.after, reduction: r.reduction, extra: r.extra });
  info(`pruned model written to ${o.out} (report: ${REPORT_FILE}, masks on the original: ${MASKS_FILE})`);
  process.stdout.write(`${formatReport(r)}\n`);
}

/**
 * `fedkd prune --model DIR --ratio R [--criterion l1|l2|bn] [--scope uniform|global] [--round8] --out DIR`:
 * structured channel pruning of a saved model into a smaller one, with a before/after report
 * (parameters, MACs, weight bytes, bytes on disk; FP32 ONNX latency with --latency). Accuracy/AUC
 * after fine-tuning will join the report's open `extra` figures once fine-tuning is wired in.
 */
export function register(program: Command): void {
  program
    .command('prune')
    .description('prune channels of a saved model into a smaller model, with a before/after report')
    .requiredOption('--model <dir>', 'saved model folder (model.json + weights.bin)')
    .requiredOption('--out <dir>', 'folder for the pruned model, its report and masks')
    .requiredOption('--ratio <r>', 'fraction of channels to remove, in [0, 0.95]', numberIn(0, 0.95))
    .option('--criterion <c>', `channel importance: ${CRITERIA.join(', ')}`, oneOf(CRITERIA), 'l1')
    .option('--scope <s>', 'uniform (every layer loses the ratio) or global (least important channels model-wide)', oneOf(['uniform', 'global'] as const), 'uniform')
    .option('--round8', 'round kept channel counts to a multiple of 8')
    .option('--min-channels <n>', 'channels every layer keeps at least', positiveInt, 1)
    .option('--exclude <layers>', 'comma-separated layers whose channels are kept')
    .option('--exclude-stem', 'keep the input stem whole')
    .option('--exclude-head', 'keep the channels entering the classifier head')
    .option('--latency', 'also measure FP32 ONNX Runtime latency before and after')
    .option('--json', 'print one JSON line')
    .action(run);
}
