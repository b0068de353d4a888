import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { stableStringify, writeFileAtomic } from '../../core/files.ts';
import { info, warn } from '../../core/log.ts';
import type { PreprocessInput } from '../../data/index.ts';
import { softLabels } from '../../distill/soft-labels.ts';
import { initBackend } from '../../engine/backend.ts';
import { ARCHS, countParams, saveModel } from '../../models/index.ts';
import { evaluate, type Evaluation } from '../../train/evaluate.ts';
import { DEFAULT_RECIPE, trainClassifier, type ClassifierRecipe } from '../../train/recipes.ts';
import { loadSitePart, sitePart } from '../../train/site-data.ts';
import { numberIn, oneOf, positiveInt, printJson } from '../run.ts';

/** Flags shared by `fedkd train` and `fedkd teacher train` (commander's camel-cased names). */
export interface TrainingFlags {
  arch: string;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  width: number;
  optimizer: 'adam' | 'sgd';
  weightDecay: number;
  valFraction: number;
  patience?: number;
  augment: boolean;
  checkpoint?: string;
  size: number;
  window: 'file' | 'auto' | 'minmax' | 'lung' | 'mediastinum' | 'bone';
  normalize: 'unit' | 'zscore';
  replicas: number;
}

function seedInt(v: string): number {
  return v === '0' ? 0 : positiveInt(v);
}

/** Adds the training and preprocessing flags to a command, with per-command defaults. */
export function trainingFlags(cmd: Command, defaults: { arch: string; epochs: number; lr: number }): Command {
  return cmd
    .option('--arch <name>', `architecture: ${ARCHS.join(', ')}`, oneOf(ARCHS), defaults.arch)
    .option('--epochs <n>', 'epochs (fewer when early stopping fires)', positiveInt, defaults.epochs)
    .option('--batch-size <n>', 'images per step', positiveInt, DEFAULT_RECIPE.batchSize)
    .option('--lr <x>', 'peak learning rate (1 epoch warm-up, then cosine)', numberIn(1e-7, 10), defaults.lr)
    .option('--seed <n>', 'seed of weights, split, shuffling and augmentation', seedInt, 0)
    .option('--width <x>', 'width multiplier of the architecture', numberIn(0.05, 4), 1)
    .option('--optimizer <kind>', 'adam or sgd (momentum 0.9)', oneOf(['adam', 'sgd'] as const), 'adam')
    .option('--weight-decay <x>', 'decoupled weight decay', numberIn(0, 1), DEFAULT_RECIPE.optimizer.weightDecay)
    .option('--val-fraction <f>', 'stratified share of the training data held out for validation (0 = none)', numberIn(0, 0.5), DEFAULT_RECIPE.valFraction)
    .option('--patience <n>', 'early stopping: epochs without a better validation AUC', positiveInt)
    .option('--no-augment', 'turn off augmentation')
    .option('--checkpoint <dir>', 'checkpoint folder (an interrupted run resumes from it)')
    .option('--size <px>', 'model input size (images are resized to size×size)', positiveInt, 64)
    .option('--window <w>', 'VOI window: file, auto, minmax, lung, mediastinum, bone', oneOf(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone'] as const), 'file')
    .option('--normalize <n>', 'unit ([0, 1]) or zscore (per image)', oneOf(['unit', 'zscore'] as const), 'zscore')
    .option('--replicas <n>', 'worker threads computing each batch\'s gradients on equal shards, e.g. one per core (batch-norm statistics are then per shard)', positiveInt, 1);
}

/** The recipe the flags describe. */
export function recipeOf(f: TrainingFlags, checkpointDir: string): ClassifierRecipe {
  return {
    arch: f.arch,
    epochs: f.epochs,
    batchSize: f.batchSize,
    lr: f.lr,
    seed: f.seed,
    widthMultiplier: f.width,
    optimizer: { kind: f.optimizer, weightDecay: f.weightDecay },
    valFraction: f.valFraction,
    patience: f.patience,
    augment: f.augment ? DEFAULT_RECIPE.augment : undefined,
    checkpointDir: f.checkpoint ?? checkpointDir,
    replicas: f.replicas,
  };
}

/** The preprocessing the flags describe (data/'s PreprocessConfig input). */
export function preprocessOf(f: TrainingFlags): PreprocessInput {
  return { size: f.size, channels: 1, window: f.window, normalize: f.normalize };
}

/** Warns when the teacher's report (`<teacher>.json`, from `fedkd teacher train`) names other preprocessing. */
function checkTeacherPreprocess(teacher: string, preprocess: PreprocessInput): void {
  const sidecar = `${teacher}.json`;
  if (!existsSync(sidecar)) return;
  const used = (JSON.parse(readFileSync(sidecar, 'utf8')) as { preprocess?: PreprocessInput }).preprocess;
  if (used && stableStringify(used) !== stableStringify(preprocess)) {
    warn(`the teacher was trained with preprocessing ${stableStringify(used)}, this run uses ${stableStringify(preprocess)}`);
  }
}

interface TrainFlags extends TrainingFlags {
  data: string;
  teacher?: string;
  out: string;
  temperature: number;
  alpha: number;
  json?: boolean;
}

/** What `fedkd train` writes to `<out>/metrics.json` and prints with --json. */
export interface StudentReport {
  out: string;
  arch: string;
  params: number;
  distilled: boolean;
  kd?: { temperature: number; alpha: number; softLabelsCached: boolean };
  trainImages: number;
  epochs: number;
  bestEpoch: number;
  val?: { auc?: number; accuracy?: number; loss: number };
  test?: Evaluation;
  backend: string;
  seconds: number;
}

/**
 * `fedkd train --data SITE --teacher teacher.onnx --arch mobile-s --out student/`: trains a
 * student at one site, distilled from the teacher's cached soft labels (hard labels only
 * without --teacher); saves the model (models/saveModel) and `metrics.json` in --out.
 */
export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a student at one site, distilled from an ONNX teacher')
    .requiredOption('--data <site>', 'the site folder (train/ and test/) or a dataset folder')
    .option('--teacher <onnx>', 'ONNX teacher (NCHW input → logits); without it, hard labels only')
    .requiredOption('--out <dir>', 'folder for the student (model.json, weights.bin, metrics.json)')
    .option('--temperature <T>', 'KD temperature', numberIn(0.05, 100), 4)
    .option('--alpha <a>', 'KD weight of the soft term', numberIn(0, 1), 0.7);
  // measured on the synthetic federation (bench/kd.bench.ts): mobile-s learns slowly at 2e-3, well at 6e-3
  trainingFlags(cmd, { arch: 'mobile-s', epochs: 60, lr: 6e-3 });
  cmd.option('--json', 'print a one-line JSON summary').action(async (f: TrainFlags) => {
    const t0 = performance.now();
    const backend = (await initBackend()).name;
    const preprocess = preprocessOf(f);
    const train = (await loadSitePart(f.data, 'train', preprocess))!;
    const test = await loadSitePart(f.data, 'test', preprocess);
    if (f.teacher) checkTeacherPreprocess(f.teacher, preprocess);
    const soft = f.teacher
      ? await softLabels(f.teacher, train, { cacheDir: path.join(sitePart(f.data, 'train')!, '.fedkd-cache'), preprocess })
      : undefined;
    info(`train: ${train.n} images at ${f.data}, ${train.size}px, ${soft ? `distilling from ${f.teacher}` : 'hard labels only'}, on ${backend}`);
    const recipe = { ...recipeOf(f, path.join(f.out, 'checkpoint')), kd: { temperature: f.temperature, alpha: f.alpha } };
    const { model, result } = await trainClassifier({ train, softLabels: soft?.logits, recipe });
    await saveModel(model, f.out);
    const report: StudentReport = {
      out: path.resolve(f.out),
      arch: f.arch,
      params: countParams(model).total,
      distilled: Boolean(soft),
      kd: soft ? { temperature: f.temperature, alpha: f.alpha, softLabelsCached: soft.cached } : undefined,
      trainImages: train.n,
      epochs: result.metrics.epochs,
      bestEpoch: result.metrics.bestEpoch,
      val: result.metrics.val,
      test: test ? evaluate(model, test) : undefined,
      backend,
      seconds: (performance.now() - t0) / 1000,
    };
    await writeFileAtomic(path.join(f.out, 'metrics.json'), `${JSON.stringify(report, null, 1)}\n`);
    if (!f.checkpoint) await rm(path.join(f.out, 'checkpoint'), { recursive: true, force: true });
    info(`train: ${report.params} params, test AUC ${report.test?.auc.toFixed(4) ?? 'n/a'}, saved to ${f.out}`);
    if (f.json) printJson(report);
  });
}
