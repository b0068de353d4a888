import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../data/index.ts';
import { initBackend } from '../../engine/backend.ts';
import { loadModel } from '../../models/index.ts';
import { openSession } from '../../runtime/session.ts';
import { runCli } from '../helpers/cli.ts';

const ENV = { FEDKD_BACKEND: 'cpu', FEDKD_QUIET: '1' };
const PRE = { size: 16, channels: 1 as const, window: 'file' as const, normalize: 'zscore' as const };

/** AUC by counting ordered (positive, negative) pairs, ties ½: independent of train/metrics. */
function pairAuc(score: number[], y: number[]): number {
  let num = 0;
  let den = 0;
  score.forEach((si, i) => score.forEach((sj, j) => {
    if (y[i] === 1 && y[j] === 0) {
      den++;
      num += si > sj ? 1 : si === sj ? 0.5 : 0;
    }
  }));
  return num / den;
}

describe('fedkd teacher train / fedkd train', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fedkd-train-'));
  const fed = path.join(dir, 'fed');
  const teacher = path.join(dir, 'teacher.onnx');
  const student = path.join(dir, 'student');

  beforeAll(async () => {
    await initBackend('cpu');
    const r = runCli(['synth', '--out', fed, '--sites', '2', '--images-per-site', '16', '--size', '32', '--large-factor', '1', '--seed', '3'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
  });

  it('trains a teacher on pooled sites, exports ONNX whose test AUC matches an independent ORT run', async () => {
    const r = runCli(['teacher', 'train', '--data', path.join(fed, 'site-a'), path.join(fed, 'site-b'), '--arch', 'cnn-s', '--width', '0.25', '--size', '16', '--epochs', '2', '--out', teacher, '--json'], { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toEqual(JSON.parse(readFileSync(`${teacher}.json`, 'utf8')));
    expect(report.trainImages).toBe(24);
    expect(report.exportMaxAbsDiff).toBeLessThan(1e-3);
    expect(existsSync(`${teacher}.checkpoint`)).toBe(false);
    // the teacher's test AUC, recomputed from ONNX Runtime's logits on both sites' test images
    const scores: number[] = [];
    const labels: number[] = [];
    const session = await openSession(teacher);
    for (const site of ['site-a', 'site-b']) {
      const ds = await loadDataset(path.join(fed, site, 'test'), PRE);
      const out = await session.run({ input: { data: ds.x, dims: [ds.n, 1, 16, 16] } }); // one channel: NHWC = NCHW
      for (let i = 0; i < ds.n; i++) scores.push(out.logits.data[2 * i + 1] - out.logits.data[2 * i]);
      labels.push(...ds.labels);
    }
    await session.release();
    expect(report.test.n).toBe(labels.length);
    expect(labels.length).toBe(8); // 16 images per site, a quarter held out
    expect(report.test.auc).toBeCloseTo(pairAuc(scores, labels), 5);
  });

  it('distils a student at one site from the cached soft labels and saves it with its metrics', async () => {
    const args = ['train', '--data', path.join(fed, 'site-a'), '--teacher', teacher, '--arch', 'mobile-s', '--width', '0.25', '--size', '16', '--epochs', '2', '--out', student, '--json'];
    const r = runCli(args, { env: ENV });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.distilled).toBe(true);
    expect(report.kd).toEqual({ temperature: 4, alpha: 0.7, softLabelsCached: false });
    expect(readdirSync(student).sort()).toEqual(['metrics.json', 'model.json', 'weights.bin']);
    // the saved student's test AUC, recomputed from its own predictions
    const model = await loadModel(student);
    const ds = await loadDataset(path.join(fed, 'site-a', 'test'), PRE);
    const logits = tf.tidy(() => (model.predict(tf.tensor4d(ds.x, [ds.n, 16, 16, 1])) as tf.Tensor).arraySync() as number[][]);
    expect(report.test.auc).toBeCloseTo(pairAuc(logits.map((l) => l[1] - l[0]), Array.from(ds.labels)), 5);
    // a second run reads the soft labels from the cache
    const again = runCli([...args.slice(0, -3), '--epochs', '1', '--out', path.join(dir, 'student2'), '--json'], { env: ENV });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).kd.softLabelsCached).toBe(true);
  });

  it('reports a missing site or teacher in one line with exit code 2', () => {
    const noSite = runCli(['train', '--data', path.join(dir, 'nope'), '--out', path.join(dir, 'x')], { env: ENV });
    expect(noSite.code).toBe(2);
    expect(noSite.stderr.trim()).toMatch(/^fedkd: no such site folder: .*nope$/);
    const noTeacher = runCli(['train', '--data', path.join(fed, 'site-a'), '--teacher', path.join(dir, 'none.onnx'), '--size', '16', '--out', path.join(dir, 'y')], { env: ENV });
    expect(noTeacher.code).toBe(2);
    expect(noTeacher.stderr).toMatch(/cannot read teacher model .*none\.onnx/);
  });
});
