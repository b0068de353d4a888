import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederatedCalibrator } from '../../coordinator/calibration.ts';
import { packTensors } from '../../core/tensors.ts';
import { loadDataset, type PreprocessInput } from '../../data/index.ts';
import { synthesizeFederation } from '../../data/synth/federation.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { modelLogits, nchwBatches } from '../../quantize/agreement.ts';
import { siteCalibrationStats } from '../../quantize/calibration/federated.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { quantizeStatic } from '../../quantize/qdq/index.ts';
import { parsePrecisionReport } from '../../runtime/report.ts';
import { runCli } from '../helpers/cli.ts';
import { perturbWeights } from './compare.ts';
import { onnxCheck, pythonWithOnnx } from './python-onnx.ts';

const ENV = { FEDKD_BACKEND: 'cpu' };
const PRE: PreprocessInput = { size: 32, channels: 1, window: 'file', normalize: 'zscore' };
let tmp: string;
let fed: string;
let modelFile: string;

/** AUC by counting every (positive, negative) pair — independent of the rank formula in quantize/. */
function pairAuc(logits: Float32Array, labels: Int32Array): number {
  let won = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < labels.length; j++) {
      if (labels[i] !== 1 || labels[j] !== 0) continue;
      const [si, sj] = [logits[2 * i + 1] - logits[2 * i], logits[2 * j + 1] - logits[2 * j]];
      won += si > sj ? 1 : si === sj ? 0.5 : 0;
      pairs++;
    }
  }
  return won / pairs;
}

beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-quantize-cli-'));
  fed = path.join(tmp, 'fed');
  await synthesizeFederation({ out: fed, sites: 2, imagesPerSite: 24, size: 48, seed: 4, largeFactor: 1, testFraction: 0.34 });
  const model = buildModel('cnn-s', { inputSize: 32, numClasses: 2, seed: 3 });
  perturbWeights(model, 6);
  modelFile = path.join(tmp, 'student.onnx');
  await writeFile(modelFile, exportOnnx(model));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Row {
  precision: string;
  fileBytes: number;
  sizeRatio: number;
  auc: number | null;
  maxLogitDiff: number;
  top1Agreement: number;
  latencyMs: { batch1: number; batch32: number };
}

describe('fedkd quantize', () => {
  let rows: Row[];
  const out = () => path.join(tmp, 'q', 'student.int8.onnx');

  it('writes the quantized model, FP16 and the precision report (FP32, FP16, INT8, mixed) with sizes and AUCs that check out', async () => {
    const fp16 = path.join(tmp, 'q', 'student.fp16.onnx');
    const r = runCli(['quantize', '--model', modelFile, '--calib', path.join(fed, 'site-a'), '--test', path.join(fed, 'site-a'), path.join(fed, 'site-b'), '--out', out(), '--fp16-out', fp16, '--runs', '2', '--auc-budget', '1', '--json'], { env: ENV });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim()) as { out: string; report: string; precision: string; chosen: string; rows: Row[] };
    rows = summary.rows;
    expect(rows.map((x) => x.precision)).toEqual(['fp32', 'fp16', 'int8', 'mixed']);
    expect(rows[0].fileBytes).toBe((await stat(modelFile)).size);
    expect(rows[1].fileBytes).toBe((await stat(fp16)).size);
    expect(rows.find((x) => x.precision === summary.precision)!.fileBytes).toBe((await stat(out())).size);
    expect(rows[2].sizeRatio).toBeLessThanOrEqual(0.3);
    expect(rows[1].sizeRatio).toBeLessThan(0.55);
    expect(rows[0]).toMatchObject({ maxLogitDiff: 0, top1Agreement: 1 });

    // the runtime reads the latencies from report.json beside the model
    const latencies = parsePrecisionReport(JSON.parse(await readFile(path.join(tmp, 'q', 'report.json'), 'utf8')));
    expect(latencies?.map((x) => x.precision)).toEqual(['fp32', 'fp16', 'int8', 'mixed']);
    for (const l of latencies!) expect(l.batch32Ms).toBeGreaterThan(0);

    // the choice is made on the table's own batch-32 timings, and its reason quotes them (with
    // --auc-budget 1 every quantized model is within the budget, so speed alone decides)
    const report = JSON.parse(await readFile(path.join(tmp, 'q', 'report.json'), 'utf8')) as { chosen: { precision: string; reason: string } };
    const ms = (p: string): number => rows.find((x) => x.precision === p)!.latencyMs.batch32;
    const fastest = ['int8', 'mixed'].reduce((a, b) => (ms(b) < ms(a) ? b : a));
    if (ms(fastest) * 1.1 <= ms('fp32')) {
      expect(report.chosen.precision).toBe(fastest);
      expect(report.chosen.reason).toContain(`${(ms('fp32') / ms(fastest)).toFixed(2)}× faster than FP32 at batch 32`);
    } else expect(report.chosen.reason).toBe(`FP32 kept: no quantized model within the budget was 1.1× faster than FP32 (${ms('fp32').toFixed(2)} ms)`);

    // FP32 AUC and the INT8 logit difference, recomputed independently on the pooled test images
    const tests = [await loadDataset(path.join(fed, 'site-a', 'test'), PRE), await loadDataset(path.join(fed, 'site-b', 'test'), PRE)];
    const pooled = { n: tests[0].n + tests[1].n, size: 32, channels: 1, x: new Float32Array([...tests[0].x, ...tests[1].x]) };
    const labels = new Int32Array([...tests[0].labels, ...tests[1].labels]);
    const fp32Bytes = new Uint8Array(await readFile(modelFile));
    const ref = await modelLogits(fp32Bytes, pooled);
    expect(rows[0].auc).toBeCloseTo(pairAuc(ref.logits, labels), 12);
    const calib = await loadDataset(path.join(fed, 'site-a', 'train'), PRE);
    const int8 = await quantizeStatic(fp32Bytes, nchwBatches(calib), { method: 'percentile' });
    const q = await modelLogits(int8.bytes, pooled);
    let diff = 0;
    for (let i = 0; i < q.logits.length; i++) diff = Math.max(diff, Math.abs(q.logits[i] - ref.logits[i]));
    expect(rows[2].maxLogitDiff).toBeCloseTo(diff, 6);
    expect(rows[2].auc).toBeCloseTo(pairAuc(q.logits, labels), 12);
  }, 240_000);

  it('passes onnx.checker (quantized and FP16 files) when python3-onnx is installed', () => {
    const py = pythonWithOnnx();
    if (!py) {
      console.warn('python3-onnx not found: skipping only the onnx.checker step');
      return;
    }
    const r = onnxCheck(py, [out(), path.join(tmp, 'q', 'student.fp16.onnx')]);
    expect(r.output).toContain('ok 2');
    expect(r.ok).toBe(true);
  });

  it('--federated reads the merged site statistics and gives the INT8 model that local calibration on the same images gives', async () => {
    const fp32Bytes = new Uint8Array(await readFile(modelFile));
    const calib = await loadDataset(path.join(fed, 'site-a', 'train'), PRE);
    const cal = new FederatedCalibrator({ method: 'percentile' });
    const half = Math.floor(calib.n / 2);
    // the same images split over two "sites"
    const parts = [
      { ...calib, n: half, x: calib.x.subarray(0, half * 32 * 32) },
      { ...calib, n: calib.n - half, x: calib.x.subarray(half * 32 * 32) },
    ];
    for (let phase = 0; phase < 2; phase++) {
      for (const [i, p] of parts.entries()) cal.receive(`site-${i}`, packTensors(await siteCalibrationStats(fp32Bytes, nchwBatches(p), cal.request()!)), p.n);
      cal.closePhase();
    }
    const stats = path.join(tmp, 'merged.fkw');
    await writeFile(stats, packTensors(cal.mergedStats()));
    const r = runCli(['quantize', '--model', modelFile, '--federated', stats, '--test', path.join(fed, 'site-a'), path.join(fed, 'site-b'), '--out', path.join(tmp, 'f', 'int8.onnx'), '--runs', '2', '--json'], { env: ENV });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const fedRows = (JSON.parse(r.stdout.trim()) as { rows: Row[] }).rows;
    expect(fedRows[2].maxLogitDiff).toBe(rows[2].maxLogitDiff);
    expect(fedRows[2].auc).toBe(rows[2].auc);
    expect(fedRows[2].fileBytes).toBe(rows[2].fileBytes);
  }, 240_000);

  it('user mistakes end in one line and exit code 2', async () => {
    const neither = runCli(['quantize', '--model', modelFile, '--out', path.join(tmp, 'x.onnx')], { env: ENV });
    expect(neither.code).toBe(2);
    expect(neither.stderr.trim().split('\n')).toHaveLength(1);
    expect(neither.stderr).toMatch(/exactly one of --calib DIR .* or --federated FILE/);
    const cal = new FederatedCalibrator({ method: 'minmax' });
    cal.receive('a', packTensors(await siteCalibrationStats(new Uint8Array(await readFile(modelFile)), nchwBatches(await loadDataset(path.join(fed, 'site-b', 'train'), PRE)), { phase: 'ranges' })), 1);
    cal.closePhase();
    const minmaxOnly = path.join(tmp, 'minmax.fkw');
    await writeFile(minmaxOnly, packTensors(cal.mergedStats()));
    const r = runCli(['quantize', '--model', modelFile, '--federated', minmaxOnly, '--method', 'entropy', '--test', path.join(fed, 'site-b'), '--out', path.join(tmp, 'y.onnx')], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/ranges only .* entropy needs the histogram phase/);
  }, 120_000);
});
