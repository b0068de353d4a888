// INT8 figures for the students (issue 7 §5): AUC drop against FP32, file size, CPU latency at
// batch 1 and 32 for FP32 / FP16 / INT8 / mixed, and the precision `fedkd quantize` chose.
// Trains cnn-s and mobile-s on a synthetic site first (cached in FEDKD_BENCH_QUANTIZE_DIR,
// default <tmp>/fedkd-bench-quantize). One JSON line per figure on stdout.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PrecisionRow } from '../quantize/precision-report.ts';

const DIR = process.env.FEDKD_BENCH_QUANTIZE_DIR ?? path.join(os.tmpdir(), 'fedkd-bench-quantize');
const ARCHS = ['cnn-s', 'mobile-s'] as const;
const METHODS = ['minmax', 'percentile', 'entropy'] as const;
/** Training of the benchmark students: enough epochs to learn the synthetic nodules. */
const EPOCHS = '40';
const SIZE = '64';
/** The targets. */
const TARGETS = { aucDrop: 0.005, sizeRatioCnnS: 0.3, speedupB32CnnS: 1.5, chosenNotSlower: 1 };
/** Timed runs per latency figure and ORT threads (1: steady figures on a shared machine). */
const RUNS = '15';
const THREADS = process.env.FEDKD_BENCH_THREADS ?? '1';

function fedkd(args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(import.meta.dirname, '..', 'bin', 'fedkd.js'), ...args], { encoding: 'utf8', env: { ...process.env, FEDKD_PROGRESS: '0' }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`fedkd ${args.join(' ')} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'quantize', figure, value: Number(value.toPrecision(6)), unit, ...extra })}\n`);
}

const fed = path.join(DIR, 'fed');
if (!existsSync(path.join(fed, 'federation.json'))) fedkd(['synth', '--out', fed, '--sites', '2', '--images-per-site', '120', '--size', '96', '--large-factor', '2', '--seed', '3']);
const site = path.join(fed, 'site-a');
const tests = [site, path.join(fed, 'site-b')];

for (const arch of ARCHS) {
  const saved = path.join(DIR, arch);
  if (!existsSync(path.join(saved, 'model.json'))) fedkd(['train', '--data', site, '--arch', arch, '--epochs', EPOCHS, '--size', SIZE, '--out', saved]);
  const onnx = path.join(DIR, `${arch}.onnx`);
  if (!existsSync(onnx)) fedkd(['export', '--model', saved, '--out', onnx]);
  for (const method of METHODS) {
    const out = path.join(DIR, `${arch}-${method}`, 'model.int8.onnx');
    const r = JSON.parse(fedkd(['quantize', '--model', onnx, '--calib', site, '--test', ...tests, '--out', out, '--method', method, '--runs', RUNS, '--threads', THREADS, '--json']).trim()) as { chosen: string; rows: PrecisionRow[] };
    const row = (p: string): PrecisionRow => r.rows.find((x) => x.precision === p)!;
    const [fp32, fp16, int8, mixed] = [row('fp32'), row('fp16'), row('int8'), row('mixed')];
    const chosen = row(r.chosen);
    const tags = { arch, method, chosen: r.chosen, threads: Number(THREADS), testImages: fp32.tests.reduce((a, t) => a + t.n, 0) };
    emit('auc_fp32', fp32.auc ?? NaN, 'AUC, pooled test sets', tags);
    for (const v of [fp16, int8, mixed]) emit(`auc_drop_${v.precision}`, (fp32.auc ?? NaN) - (v.auc ?? NaN), 'AUC', { ...tags, target: TARGETS.aucDrop, met: (fp32.auc ?? 0) - (v.auc ?? 0) <= TARGETS.aucDrop });
    emit('auc_drop_chosen', (fp32.auc ?? NaN) - (chosen.auc ?? NaN), 'AUC', { ...tags, target: TARGETS.aucDrop, met: (fp32.auc ?? 0) - (chosen.auc ?? 0) <= TARGETS.aucDrop });
    for (const v of [fp16, int8, mixed]) emit(`size_ratio_${v.precision}`, v.sizeRatio, '× FP32 file', { ...tags, bytes: v.fileBytes, ...(arch === 'cnn-s' && v.precision === 'int8' ? { target: TARGETS.sizeRatioCnnS, met: v.sizeRatio <= TARGETS.sizeRatioCnnS } : {}) });
    for (const v of [fp32, fp16, int8, mixed]) {
      emit(`latency_b1_${v.precision}`, v.latencyMs.batch1, 'ms per batch of 1, median', tags);
      emit(`latency_b32_${v.precision}`, v.latencyMs.batch32, 'ms per batch of 32, median', tags);
    }
    emit('speedup_b32_int8', fp32.latencyMs.batch32 / int8.latencyMs.batch32, '× FP32', { ...tags, ...(arch === 'cnn-s' ? { target: TARGETS.speedupB32CnnS, met: fp32.latencyMs.batch32 / int8.latencyMs.batch32 >= TARGETS.speedupB32CnnS } : {}) });
    emit('speedup_b1_int8', fp32.latencyMs.batch1 / int8.latencyMs.batch1, '× FP32', tags);
    const chosenSpeed = fp32.latencyMs.batch32 / chosen.latencyMs.batch32;
    emit('speedup_b32_chosen', chosenSpeed, '× FP32 (report pass)', { ...tags, target: TARGETS.chosenNotSlower, met: chosenSpeed >= TARGETS.chosenNotSlower });
    emit('max_logit_diff_int8', int8.maxLogitDiff, 'logit', tags);
    emit('top1_agreement_int8', int8.top1Agreement, 'fraction', tags);
  }
}
