import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { Rng } from '../../core/rng.ts';
import type * as tf from '@tensorflow/tfjs';
import type { PreprocessInput } from '../../data/index.ts';
import { initBackend } from '../../engine/backend.ts';
import { loadModel, saveModel } from '../../models/index.ts';
import { createMaskHook } from '../../prune/apply-masks.ts';
import { CRITERIA, type Criterion } from '../../prune/importance.ts';
import { pruneModel } from '../../prune/prune.ts';
import { formatReport, type PruneReport } from '../../prune/report.ts';
import type { FineTune } from '../../prune/schedule.ts';
import { evaluate } from '../../train/evaluate.ts';
import { trainLocal } from '../../train/loop.ts';
import { loadSitePart } from '../../train/site-data.ts';
import type { ImageSet } from '../../train/types.ts';
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
  data?: string;
  steps: number;
  epochs: number;
  lr: number;
  batchSize: number;
  seed: number;
  window: 'file' | 'auto' | 'minmax' | 'lung' | 'mediastinum' | 'bone';
  normalize: 'unit' | 'zscore';
  json?: boolean;
}

/** Fine-tuning after each pruning step: `epochs` of Adam (cosine) on the site's training part, under the masks. */
function fineTuner(train: ImageSet, o: PruneFlags): FineTune {
  return async (model, masks, step) => {
    const hook = createMaskHook(model, masks);
    try {
      await trainLocal({
        model,
        train,
        config: { epochs: o.epochs, batchSize: o.batchSize, seed: o.seed + step, optimizer: { kind: 'adam' }, schedule: { kind: 'cosine', lr: o.lr, warmupSteps: 0 }, label: `fine-tune ${step}` },
        maskHook: hook,
      });
    } finally {
      hook.dispose();
    }
  };
}

/** The site's training and test parts, preprocessed to the model's input. */
async function siteData(model: tf.LayersModel, o: PruneFlags & { data: string }): Promise<{ train: ImageSet; test?: ImageSet }> {
  const [, size, , channels] = model.inputs[0].shape as number[];
  const pre: PreprocessInput = { size, channels: channels as 1 | 3, window: o.window, normalize: o.normalize };
  const train = (await loadSitePart(o.data, 'train', pre))!;
  const test = await loadSitePart(o.data, 'test', pre);
  return { train, test };
}

/** Adds test AUC and accuracy before and after to the report's open figures. */
function addAccuracy(r: PruneReport, before: ReturnType<typeof evaluate>, after: ReturnType<typeof evaluate>): void {
  r.extra.auc = { before: before.auc, after: after.auc, unit: `test AUC, ${after.n} images` };
  r.extra.accuracy = { before: before.accuracy, after: after.accuracy, unit: 'test accuracy' };
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
  const data = o.data ? await siteData(model, { ...o, data: o.data }) : undefined;
  const testBefore = data?.test ? evaluate(model, data.test) : undefined;
  if (data) info(`prune: fine-tuning ${o.epochs} epoch(s) after each of ${o.steps} step(s) on ${data.train.n} images of ${o.data}`);
  const result = await pruneModel(model, {
    steps: o.steps,
    fineTune: data ? fineTuner(data.train, o) : undefined,
    ratio: o.ratio,
    criterion: o.criterion,
    scope: o.scope,
    roundTo: o.round8 ? 8 : 1,
    minChannels: o.minChannels,
    exclude,
    excludeStem: o.excludeStem,
    excludeHead: o.excludeHead,
  }).catch((e: Error) => {
    throw e instanceof UserError ? e : new UserError(`cannot prune ${o.model}: ${e.message}`);
  });
  await saveModel(result.model, o.out);
  const r = result.report;
  r.before.diskBytes = await folderBytes(o.model);
  r.after.diskBytes = await folderBytes(o.out);
  if (testBefore && data?.test) addAccuracy(r, testBefore, evaluate(result.model, data.test));
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
 * (parameters, MACs, weight bytes, bytes on disk; FP32 ONNX latency with --latency; with --data,
 * fine-tuning after each of --steps steps and test AUC/accuracy before and after). Further
 * figures (e.g. INT8 latency, federated AUC) go into the report's open `extra` record.
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
    .option('--data <site>', 'site folder (train/, test/): fine-tune after each step, report test AUC before and after')
    .option('--steps <n>', 'prune in n steps of ratio/n, fine-tuning after each (iterative schedule)', positiveInt, 1)
    .option('--epochs <n>', 'fine-tuning epochs after each step (with --data)', positiveInt, 3)
    .option('--lr <x>', 'fine-tuning peak learning rate (Adam, cosine)', numberIn(1e-7, 1), 1e-3)
    .option('--batch-size <n>', 'fine-tuning batch size', positiveInt, 32)
    .option('--seed <n>', 'fine-tuning seed (shuffling)', (v: string) => (v === '0' ? 0 : positiveInt(v)), 0)
    .option('--window <w>', 'VOI window of --data images: file, auto, minmax, lung, mediastinum, bone', oneOf(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone'] as const), 'file')
    .option('--normalize <n>', 'normalisation of --data images: unit or zscore', oneOf(['unit', 'zscore'] as const), 'zscore')
    .option('--json', 'print one JSON line')
    .action(run);
}
