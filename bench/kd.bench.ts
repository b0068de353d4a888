// Distillation quality (issue 4 §5) on the synthetic federation: the teacher's test AUC, a
// small student distilled from it against the same student on hard labels only, and the
// parameter ratio. One JSON line per figure on stdout; progress on stderr.
// Knobs (environment): KD_BENCH_DIR (work folder), KD_SIZE (64), KD_IMAGES_PER_SITE (240),
// KD_TEACHER_WIDTH (0.5), KD_STUDENT_WIDTH (0.9), KD_TEACHER_EPOCHS (20), KD_STUDENT_EPOCHS (60), KD_SEED (1),
// KD_STUDENT_LR (6e-3), KD_SITE (site-b: the one site a single-site student trains at, as `fedkd train` does).
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configHash, writeFileAtomic } from '../core/files.ts';
import { info } from '../core/log.ts';
import { loadDataset, type PreprocessInput } from '../data/index.ts';
import { synthesizeFederation } from '../data/synth/federation.ts';
import { softLabels } from '../distill/soft-labels.ts';
import { initBackend } from '../engine/backend.ts';
import { countParams } from '../models/index.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { evaluate, type Evaluation } from '../train/evaluate.ts';
import { trainClassifier, type ClassifierRecipe } from '../train/recipes.ts';
import { pool } from '../train/split.ts';
import type { EpochRecord } from '../train/checkpoint.ts';
import type { ImageSet } from '../train/types.ts';

const logEpoch = (label: string) => (e: EpochRecord): void =>
  info(`${label} epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}, val AUC ${e.val?.auc?.toFixed(4)}, ${e.seconds.toFixed(0)} s`);

/** The targets: student ≤ 1/10 of the teacher's parameters, AUC within 0.03 of it. */
const PARAM_RATIO_TARGET = 0.1;
const AUC_GAP_TARGET = 0.03;

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const SEED = env('KD_SEED', 1);
const SIZE = env('KD_SIZE', 64);
const IMAGES_PER_SITE = env('KD_IMAGES_PER_SITE', 240);
const WORK = process.env.KD_BENCH_DIR ?? path.join(os.tmpdir(), `fedkd-kd-bench-${SEED}-${IMAGES_PER_SITE}`);

function emit(figure: string, value: number, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'kd', figure, value: Number(value.toPrecision(6)), ...extra })}\n`);
}

async function federation(): Promise<string[]> {
  const fed = path.join(WORK, 'federation');
  if (!existsSync(path.join(fed, 'federation.json'))) {
    info(`kd bench: synthesizing the federation in ${fed}`);
    await synthesizeFederation({ out: fed, sites: 4, imagesPerSite: IMAGES_PER_SITE, size: 128, seed: SEED, largeFactor: 3, testFraction: 0.25 });
  }
  return ['site-a', 'site-b', 'site-c', 'site-d'].map((s) => path.join(fed, s));
}

async function pooled(sites: string[], part: 'train' | 'test', pre: PreprocessInput): Promise<ImageSet> {
  return pool(await Promise.all(sites.map((s) => loadDataset(path.join(s, part), pre))));
}

async function main(): Promise<void> {
  const backend = (await initBackend()).name;
  const pre: PreprocessInput = { size: SIZE, channels: 1, window: 'file', normalize: 'zscore' };
  const sites = await federation();
  const train = await pooled(sites, 'train', pre);
  const test = await pooled(sites, 'test', pre);
  info(`kd bench: ${train.n} training and ${test.n} test images at ${SIZE}px on ${backend}`);
  const common = { batchSize: 32, lr: 2e-3, seed: SEED, valFraction: 0.2 };
  const teacherRecipe: ClassifierRecipe = { ...common, arch: 'teacher-l', widthMultiplier: env('KD_TEACHER_WIDTH', 0.5), epochs: env('KD_TEACHER_EPOCHS', 20), label: 'teacher' };
  const studentRecipe: ClassifierRecipe = { ...common, lr: env('KD_STUDENT_LR', 6e-3), arch: 'mobile-s', widthMultiplier: env('KD_STUDENT_WIDTH', 0.9), epochs: env('KD_STUDENT_EPOCHS', 60) };
  const teacherFile = path.join(WORK, `teacher-${configHash({ teacherRecipe, pre, n: train.n }).slice(0, 12)}.onnx`);

  // the teacher: trained once per recipe (its checkpoint resumes an interrupted run)
  const t0 = performance.now();
  const teacher = await trainClassifier({ train, recipe: { ...teacherRecipe, checkpointDir: `${teacherFile}.checkpoint` }, onEpochEnd: logEpoch('teacher') });
  const teacherTest = evaluate(teacher.model, test);
  const teacherParams = countParams(teacher.model).total;
  if (!existsSync(teacherFile)) await writeFileAtomic(teacherFile, exportOnnx(teacher.model));
  emit('teacher_test_auc', teacherTest.auc, { arch: 'teacher-l', width: teacherRecipe.widthMultiplier, params: teacherParams, accuracy: teacherTest.accuracy, n: test.n, epochs: teacher.result.metrics.epochs, bestEpoch: teacher.result.metrics.bestEpoch, seconds: Math.round((performance.now() - t0) / 1000), backend });

  // the student, distilled from the ONNX teacher's soft labels, and on hard labels only
  const soft = await softLabels(teacherFile, train, { cacheDir: path.join(WORK, 'soft-labels'), preprocess: pre });
  const student = async (label: string, set: ImageSet, logits?: Float32Array): Promise<Evaluation & { params: number }> => {
    const t1 = performance.now();
    const s = await trainClassifier({ train: set, softLabels: logits, recipe: { ...studentRecipe, label }, onEpochEnd: logEpoch(label) });
    const r = { ...evaluate(s.model, test), params: countParams(s.model).total };
    emit(`${label}_test_auc`, r.auc, { arch: 'mobile-s', width: studentRecipe.widthMultiplier, params: r.params, accuracy: r.accuracy, trainImages: set.n, n: test.n, bestEpoch: s.result.metrics.bestEpoch, seconds: Math.round((performance.now() - t1) / 1000), ...(logits ? { temperature: 4, alpha: 0.7 } : {}) });
    s.model.dispose();
    return r;
  };
  const results = { kd: await student('student_kd', train, soft.logits), hard: await student('student_hard', train) };
  emit('kd_auc_gain', results.kd.auc - results.hard.auc, { kdHelps: results.kd.auc > results.hard.auc });
  const ratio = results.kd.params / teacherParams;
  emit('student_teacher_param_ratio', ratio, { target: PARAM_RATIO_TARGET, met: ratio <= PARAM_RATIO_TARGET });
  const gap = teacherTest.auc - results.kd.auc;
  emit('teacher_minus_kd_student_auc', gap, { target: AUC_GAP_TARGET, met: gap <= AUC_GAP_TARGET });

  // one site alone (fedkd train's case): its own images, the pooled teacher's soft labels, tested on every site's test images
  const siteName = process.env.KD_SITE ?? 'site-b';
  const site = await loadDataset(path.join(sites.find((s) => s.endsWith(siteName)) ?? sites[1], 'train'), pre);
  const siteSoft = await softLabels(teacherFile, site, { cacheDir: path.join(WORK, 'soft-labels'), preprocess: pre });
  const siteKd = await student(`${siteName}_student_kd`, site, siteSoft.logits);
  const siteHard = await student(`${siteName}_student_hard`, site);
  emit(`${siteName}_kd_auc_gain`, siteKd.auc - siteHard.auc, { kdHelps: siteKd.auc > siteHard.auc });
}

await main();
