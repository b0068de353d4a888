import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, countParams, loadModel, saveModel } from '../../models/index.ts';
import { applyMasks } from '../../prune/apply-masks.ts';
import { parseMasks } from '../../prune/masks.ts';
import { evaluate } from '../../train/evaluate.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { shrinkModel } from '../../prune/surgery.ts';
import { runCli } from '../helpers/cli.ts';
import { maxAbsDiff, randomInput, randomizeBatchNorm } from './fixtures.ts';

describe('fedkd prune', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'fedkd-prune-'));
  const src = path.join(dir, 'mobile');
  beforeAll(async () => {
    await initBackend('cpu');
    const m = buildModel('mobile-s', { inputSize: 32 });
    randomizeBatchNorm(m, 5);
    await saveModel(m, src);
  });

  it('writes a smaller model equal to the masked original, with its report and masks', async () => {
    const out = path.join(dir, 'pruned');
    const r = runCli(['prune', '--model', src, '--ratio', '0.3', '--criterion', 'bn', '--round8', '--latency', '--out', out, '--json'], { env: { FEDKD_BACKEND: 'cpu' } });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]);
    const small = await loadModel(out);
    expect(summary.after.params).toBe(countParams(small).total);
    expect(summary.before.params).toBe(37314);
    expect(summary.reduction.macs).toBeGreaterThan(0.4);
    expect(summary.settings).toMatchObject({ criterion: 'bn', ratio: 0.3, roundTo: 8 });
    const report = JSON.parse(readFileSync(path.join(out, 'prune-report.json'), 'utf8'));
    expect(report.after.diskBytes).toBeLessThan(report.before.diskBytes);
    expect(Object.keys(report.extra)).toEqual(['onnxLatencyMs']);
    expect(report.extra.onnxLatencyMs.before).toBeGreaterThan(0);
    expect(report.extra.onnxLatencyMs.after).toBeGreaterThan(0);
    const masks = parseMasks(readFileSync(path.join(out, 'masks.json'), 'utf8'));
    const original = await loadModel(src);
    applyMasks(original, masks);
    const x = randomInput([2, 32, 32, 1], 8);
    expect(maxAbsDiff(original.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor)).toBeLessThan(1e-5);
  });

  it('prints a before/after table without --json', () => {
    const r = runCli(['prune', '--model', src, '--ratio', '0.5', '--out', path.join(dir, 'p2')], { env: { FEDKD_BACKEND: 'cpu' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^parameters\s+37314\s+\d+\s+-\d+\.\d%$/m);
    expect(r.stdout).toMatch(/^block5\/pw\s+128→64 /m);
  });

  it('rejects mistakes with one line and exit code 2', () => {
    for (const args of [
      ['--model', src, '--ratio', '0.5', '--out', src],
      ['--model', path.join(dir, 'missing'), '--ratio', '0.5', '--out', path.join(dir, 'y')],
      ['--model', src, '--ratio', '0.5', '--criterion', 'l3', '--out', path.join(dir, 'z')],
    ]) {
      const r = runCli(['prune', ...args], { env: { FEDKD_BACKEND: 'cpu' } });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('with --data and --steps: fine-tunes under the masks and reports test AUC before and after', async () => {
    const fed = path.join(dir, 'fed');
    const synth = runCli(['synth', '--out', fed, '--sites', '1', '--images-per-site', '16', '--size', '48', '--seed', '2', '--large-factor', '1']);
    expect(synth.code, synth.stderr).toBe(0);
    const out = path.join(dir, 'tuned');
    const r = runCli(['prune', '--model', src, '--ratio', '0.5', '--steps', '2', '--epochs', '1', '--batch-size', '8', '--data', path.join(fed, 'site-a'), '--out', out, '--json'], { env: { FEDKD_BACKEND: 'cpu' } });
    expect(r.code, r.stderr).toBe(0);
    const extra = JSON.parse(r.stdout).extra;
    const test = (await loadSitePart(path.join(fed, 'site-a'), 'test', { size: 32, channels: 1, window: 'file', normalize: 'zscore' }))!;
    const original = await loadModel(src);
    const tuned = await loadModel(out);
    expect(extra.auc.before).toBeCloseTo(evaluate(original, test).auc, 6);
    expect(extra.auc.after).toBeCloseTo(evaluate(tuned, test).auc, 6);
    // fine-tuning moved the kept weights: the result is not the one-shot cut of the original
    const masks = parseMasks(readFileSync(path.join(out, 'masks.json'), 'utf8'));
    const oneShot = await shrinkModel(original, masks);
    const x = randomInput([2, 32, 32, 1], 9);
    expect(maxAbsDiff(oneShot.predict(x) as tf.Tensor, tuned.predict(x) as tf.Tensor)).toBeGreaterThan(1e-4);
  });
});
