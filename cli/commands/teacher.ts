import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import type { PreprocessInput } from '../../data/index.ts';
import { runTeacher } from '../../distill/teacher.ts';
import { evaluate } from '../../train/evaluate.ts';
import { predictLogits } from '../../train/classification.ts';
import { DEFAULT_RECIPE, trainClassifier } from '../../train/recipes.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import { countParams } from '../../models/index.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { openSession } from '../../runtime/session.ts';
import { printJson } from '../run.ts';
import { preprocessOf, recipeOf, trainingFlags, type TrainingFlags } from './train.ts';

/** Largest |ONNX − tfjs| logit difference accepted when checking the exported teacher. */
const EXPORT_TOLERANCE = 1e-3;

interface TeacherFlags extends TrainingFlags {
  data: string[];
  out: string;
  json?: boolean;
}

/** What `fedkd teacher train` writes next to the ONNX file (`<out>.json`) and prints with --json. */
export interface TeacherReport {
  onnx: string;
  arch: string;
  params: number;
  preprocess: PreprocessInput;
  trainImages: number;
  epochs: number;
  bestEpoch: number;
  val?: { auc?: number; accuracy?: number; loss: number };
  test?: { auc: number; accuracy: number; loss: number; n: number };
  exportMaxAbsDiff: number;
  backend: string;
  seconds: number;
}

/**
 * `fedkd teacher train --data SITE… --arch teacher-l --out teacher.onnx`: trains a teacher on
 * the pooled training data of several sites (as a consortium's reference centre would),
 * exports it to ONNX (quantize/export), checks the ONNX logits against tfjs on the pooled
 * test images, and reports its test AUC.
 */
export function register(program: Command): void {
  const teacher = program.command('teacher').description('teacher models for distillation');
  const cmd = teacher
    .command('train')
    .description('train a teacher on pooled site data and export it to ONNX')
    .requiredOption('--data <dirs...>', 'site folders (each with train/ and test/) or dataset folders')
    .requiredOption('--out <file>', 'the ONNX file to write (metrics go to <file>.json)');
  trainingFlags(cmd, { arch: 'teacher-l', epochs: 30, lr: DEFAULT_RECIPE.lr });
  cmd.option('--json', 'print a one-line JSON summary').action(async (flags: TeacherFlags) => {
    const t0 = performance.now();
    const backend = (await initBackend()).name;
    const preprocess = preprocessOf(flags);
    const trains = await Promise.all(flags.data.map((d) => loadSitePart(d, 'train', preprocess)));
    const tests = (await Promise.all(flags.data.map((d) => loadSitePart(d, 'test', preprocess)))).filter((t) => t !== undefined);
    const train = pool(trains.filter((t) => t !== undefined));
    info(`teacher: ${train.n} training images from ${flags.data.length} site(s), ${train.size}px, on ${backend}`);
    const checkpointDir = `${flags.out}.checkpoint`;
    const { model, result } = await trainClassifier({ train, recipe: recipeOf(flags, checkpointDir) });
    const bytes = exportOnnx(model);
    await writeFileAtomic(flags.out, bytes);
    const test = tests.length ? pool(tests) : undefined;
    const check = test ?? train;
    const session = await openSession(bytes);
    const onnx = await runTeacher(session, { ...check, n: Math.min(check.n, 64) }, { batchSize: 32 });
    await session.release();
    const tfjs = predictLogits(model, { ...check, n: Math.min(check.n, 64) }, 32);
    const diff = tfjs.reduce((m, v, i) => Math.max(m, Math.abs(v - onnx.logits[i])), 0);
    if (!(diff <= EXPORT_TOLERANCE)) throw new UserError(`the exported teacher disagrees with tfjs by ${diff.toExponential(2)} (tolerance ${EXPORT_TOLERANCE})`);
    const report: TeacherReport = {
      onnx: path.resolve(flags.out),
      arch: flags.arch,
      params: countParams(model).total,
      preprocess,
      trainImages: train.n,
      epochs: result.metrics.epochs,
      bestEpoch: result.metrics.bestEpoch,
      val: result.metrics.val,
      test: test ? evaluate(model, test) : undefined,
      exportMaxAbsDiff: diff,
      backend,
      seconds: (performance.now() - t0) / 1000,
    };
    if (!flags.checkpoint) await rm(checkpointDir, { recursive: true, force: true });
    await writeFileAtomic(`${flags.out}.json`, `${JSON.stringify(report, null, 1)}\n`);
    info(`teacher: ${report.params} params, test AUC ${report.test?.auc.toFixed(4) ?? 'n/a'}, wrote ${flags.out} (${bytes.length} bytes)`);
    if (flags.json) printJson(report);
  });
}
