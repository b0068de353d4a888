import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { ActivationProbe, collectHistograms, collectRanges, chooseRanges, histogramEdges } from '../../quantize/calibration/collect.ts';
import { mergeHistograms } from '../../quantize/calibration/histogram.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { floatValues, decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { activationsToQuantize, quantizeStatic, quantizeWithRanges } from '../../quantize/qdq/index.ts';
import type { TensorRange } from '../../quantize/calibration/histogram.ts';
import { activationQParams, quantizeBias, quantizeWeightsPerChannel } from '../../quantize/qdq/params.ts';
import { openSession, type FloatTensor } from '../../runtime/session.ts';
import { decodeOnnx, perturbWeights } from './compare.ts';
import { onnxCheck, pythonWithOnnx } from './python-onnx.ts';

const SIZE = 32;
let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-qdq-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Seeded NCHW batches in [0, 1), like preprocessed images. */
function batches(n: number, size: number, seed: number, channels = 1): FloatTensor[] {
  return Array.from({ length: n }, (_, i) => {
    const x = tf.randomUniform([4, channels, size, size], 0, 1, 'float32', seed + i);
    return { data: x.dataSync() as Float32Array, dims: x.shape };
  });
}

async function logits(model: Uint8Array | string, x: FloatTensor, optimization: 'disabled' | 'all' = 'all', optimizedModelPath?: string): Promise<Float32Array> {
  const s = await openSession(model, { provider: 'cpu', optimization, ...(optimizedModelPath ? { optimizedModelPath } : {}) });
  const out = (await s.run({ input: x })).logits.data;
  await s.release();
  return out;
}

const maxAbs = (a: ArrayLike<number>, b?: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - (b ? b[i] : 0)));
  return m;
};

describe('quantization parameters (hand-computed)', () => {
  it('uint8 activations: range widened to 0, zero point rounds −min/scale', () => {
    expect(activationQParams({ min: -1, max: 3 })).toEqual({ scale: Math.fround(4 / 255), zeroPoint: 64 });
    expect(activationQParams({ min: 0.5, max: 2 })).toEqual({ scale: Math.fround(2 / 255), zeroPoint: 0 });
    expect(activationQParams({ min: 0, max: 0 })).toEqual({ scale: 1, zeroPoint: 0 });
  });

  it('per-channel symmetric int8 weights along the output axis, and int32 bias at inputScale·weightScale', () => {
    // dims [2, 3]: channel 0 = [1, -0.3, 0.25] (scale 1/127), channel 1 = [0, 1, -4] (scale 4/127)
    const { q, scales } = quantizeWeightsPerChannel(Float32Array.from([1, -0.3, 0.25, 0, 1, -4]), [2, 3], 0);
    expect(Array.from(scales)).toEqual([Math.fround(1 / 127), Math.fround(4 / 127)]);
    expect(Array.from(q)).toEqual([127, -38, 32, 0, 32, -127]);
    // the same weights as a Gemm B [in=3, out=2] quantize along axis 1
    const t = quantizeWeightsPerChannel(Float32Array.from([1, 0, -0.3, 1, 0.25, -4]), [3, 2], 1);
    expect(Array.from(t.q)).toEqual([127, 0, -38, 32, 32, -127]);
    const b = quantizeBias(Float32Array.from([0.5, -1]), 0.1, scales);
    expect(Array.from(b.scales)).toEqual([Math.fround(0.1 * scales[0]), Math.fround(0.1 * scales[1])]);
    expect(Array.from(b.q)).toEqual([Math.round(0.5 / b.scales[0]), Math.round(-1 / b.scales[1])]); // 635, −318
    expect(Array.from(b.q)).toEqual([635, -318]);
  });

  it('an all-zero (pruned) channel gets scale 1 and zero weights', () => {
    const { q, scales } = quantizeWeightsPerChannel(new Float32Array(4), [2, 2], 0);
    expect(Array.from(scales)).toEqual([1, 1]);
    expect(Array.from(q)).toEqual([0, 0, 0, 0]);
  });
});

describe.each(['cnn-s', 'mobile-s'] as const)('%s quantized to INT8 QDQ', (arch) => {
  let fp32: Uint8Array;
  let int8: Uint8Array;
  let file: string;
  let ranges: Map<string, TensorRange>;
  const calib = batches(4, SIZE, 100);
  const probe = batches(1, SIZE, 999)[0];

  beforeAll(async () => {
    const model = buildModel(arch, { inputSize: SIZE, numClasses: 3, seed: 2 });
    perturbWeights(model, 8);
    fp32 = exportOnnx(model);
    ({ bytes: int8, ranges } = await quantizeStatic(fp32, calib, { method: 'minmax' }));
    file = path.join(tmp, `${arch}.int8.onnx`);
    await writeFile(file, int8);
  });

  it('ONNX Runtime fuses it into QLinearConv / QGemm (optimised graph), with no float Conv left', async () => {
    const opt = path.join(tmp, `${arch}.opt.onnx`);
    await logits(int8, probe, 'all', opt);
    const ops = decodeOnnx(new Uint8Array(await readFile(opt))).nodes.map((n) => n.opType);
    const convs = decodeOnnx(fp32).nodes.filter((n) => n.opType === 'Conv').length;
    expect(ops.filter((o) => o === 'QLinearConv').length).toBe(convs);
    expect(ops).toContain('QGemm');
    expect(ops).not.toContain('Conv');
    expect(ops.filter((o) => o === 'DequantizeLinear')).toEqual([]);
  });

  it('the fused INT8 kernels agree with ORT running the same QDQ graph unfused (explicit Q/DQ in float)', async () => {
    const fused = await logits(int8, probe, 'all');
    const reference = await logits(int8, probe, 'disabled');
    const scale = maxAbs(reference);
    expect(scale).toBeGreaterThan(0.01);
    expect(maxAbs(fused, reference)).toBeLessThanOrEqual(0.01 * scale);
  });

  it('stays within 5% of FP32 logits; the file is at most 0.3× FP32 (cnn-s), 0.5× (mobile-s)', async () => {
    const a = await logits(fp32, probe);
    const b = await logits(int8, probe);
    expect(maxAbs(b, a)).toBeLessThanOrEqual(0.05 * maxAbs(a));
    expect(int8.length).toBeLessThanOrEqual((arch === 'cnn-s' ? 0.3 : 0.5) * fp32.length);
  });

  it('stores each weight as int8 within half a step of the FP32 weight', () => {
    const m = decodeModel(int8);
    const f = decodeModel(fp32);
    const w = f.graph!.initializer!.find((t) => t.name?.endsWith('/W'))!;
    const { data, dims } = floatValues(w);
    const qName = m.graph!.initializer!.find((t) => t.name?.startsWith(`${w.name}_`) && t.name.endsWith('_quantized'))!;
    const sName = m.graph!.initializer!.find((t) => t.name === qName.name!.replace(/_quantized$/, '_scale'))!;
    const q = new Int8Array(new Uint8Array(qName.rawData!).buffer);
    const s = floatValues(sName).data;
    const perChannel = data.length / dims[0];
    for (let i = 0; i < data.length; i++) expect(Math.abs(data[i] - q[i] * s[Math.floor(i / perChannel)])).toBeLessThanOrEqual(s[Math.floor(i / perChannel)] / 2 + 1e-7);
    for (let c = 0; c < dims[0]; c++) expect(Math.max(...Array.from(q.subarray(c * perChannel, (c + 1) * perChannel), Math.abs))).toBe(127);
  });

  it('keeps chosen nodes in FP32 (mixed precision): the stem stays a float Conv and the input is not quantized', async () => {
    const stem = decodeOnnx(fp32).nodes.find((n) => n.opType === 'Conv')!;
    const mixed = quantizeWithRanges(fp32, ranges, { keepFp32: new Set([stem.name]) });
    const nodes = decodeOnnx(mixed).nodes;
    expect(nodes.filter((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === 'input')).toEqual([]);
    expect(nodes.find((n) => n.name === stem.name)?.inputs.slice(0, 2)).toEqual(stem.inputs.slice(0, 2));
    const opt = path.join(tmp, `${arch}.mixed.opt.onnx`);
    const out = await logits(mixed, probe, 'all', opt);
    const ops = decodeOnnx(new Uint8Array(await readFile(opt))).nodes.map((n) => n.opType);
    const convs = decodeOnnx(fp32).nodes.filter((n) => n.opType === 'Conv').length;
    expect(ops.filter((o) => o === 'QLinearConv').length).toBe(convs - 1);
    const reference = await logits(fp32, probe);
    expect(maxAbs(out, reference)).toBeLessThanOrEqual(0.05 * maxAbs(reference));
  });

  it('passes onnx.checker when python3-onnx is installed', () => {
    const py = pythonWithOnnx();
    if (!py) {
      console.warn('python3-onnx not found: skipping only the onnx.checker step');
      return;
    }
    const r = onnxCheck(py, [file]);
    expect(r.output).toContain('ok 1');
    expect(r.ok).toBe(true);
  });
});

describe('calibration through ONNX Runtime', () => {
  let fp32: Uint8Array;
  beforeAll(() => {
    const model = buildModel('mobile-s', { inputSize: 16, seed: 6 });
    perturbWeights(model, 4);
    fp32 = exportOnnx(model);
  });

  it('observes the input range exactly and never widens it with percentile or entropy', async () => {
    const data = batches(3, 16, 40);
    const tensors = activationsToQuantize(decodeModel(fp32).graph!);
    expect(tensors[0]).toBe('input');
    const probe = await ActivationProbe.open(fp32, tensors);
    const ranges = await collectRanges(probe, data);
    const all = data.flatMap((b) => Array.from(b.data));
    expect(ranges.get('input')).toEqual({ min: Math.min(...all), max: Math.max(...all) });
    const hists = await collectHistograms(probe, data, histogramEdges(ranges));
    await probe.release();
    for (const method of ['percentile', 'entropy'] as const) {
      for (const [t, r] of chooseRanges({ method }, ranges, hists)) {
        expect(r.min).toBeGreaterThanOrEqual(ranges.get(t)!.min);
        expect(r.max).toBeLessThanOrEqual(ranges.get(t)!.max);
      }
    }
  });

  it('histograms of two data shards, merged, give the ranges of the pooled data (federated calibration)', async () => {
    const shardA = batches(2, 16, 50);
    const shardB = batches(2, 16, 60);
    const tensors = activationsToQuantize(decodeModel(fp32).graph!);
    const probe = await ActivationProbe.open(fp32, tensors);
    const pooledRanges = await collectRanges(probe, [...shardA, ...shardB]);
    const edges = histogramEdges(pooledRanges);
    const a = await collectHistograms(probe, shardA, edges);
    const b = await collectHistograms(probe, shardB, edges);
    const pooled = await collectHistograms(probe, [...shardA, ...shardB], edges);
    await probe.release();
    const merged = new Map([...a].map(([t, h]) => [t, mergeHistograms(h, b.get(t)!)]));
    for (const method of ['percentile', 'entropy'] as const) {
      expect(chooseRanges({ method }, pooledRanges, merged)).toEqual(chooseRanges({ method }, pooledRanges, pooled));
    }
  });
});
