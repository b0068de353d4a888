import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { accuracy, binaryAuc, maxAbsDifference, modelLogits, nchwBatch, top1Agreement, type LabelledImages } from '../../quantize/agreement.ts';
import { calibrate } from '../../quantize/calibration/collect.ts';
import type { TensorRange } from '../../quantize/calibration/histogram.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { layerTimes, median, nodeLayerResolver, profileLayers, roundOrder, type ProfileEvent } from '../../quantize/latency.ts';
import { chooseMixedPrecision, choosePrecision, expandFp32, type MixedPlan } from '../../quantize/mixed.ts';
import { activationsToQuantize, quantizeWithRanges } from '../../quantize/qdq/index.ts';
import { decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { openSession } from '../../runtime/session.ts';
import { decodeOnnx, perturbWeights } from './compare.ts';

describe('agreement metrics (hand-computed)', () => {
  // scores logit1 − logit0: [0.5, -1, 2, 0.5, 3]; labels [1, 0, 0, 0, 1]
  const logits = Float32Array.from([0, 0.5, 1, 0, -1, 1, 0.5, 1, 0, 3]);
  const labels = Int32Array.from([1, 0, 0, 0, 1]);

  it('AUC is the share of (positive, negative) pairs ranked right, ties half', () => {
    // positives 0.5, 3; negatives -1, 2, 0.5 → pairs won: (0.5>-1)=1, (0.5 vs 2)=0, (0.5=0.5)=½, 3 beats all three = 3 → 4.5/6
    expect(binaryAuc(logits, 2, labels)).toBeCloseTo(4.5 / 6, 12);
    expect(binaryAuc(logits, 2, Int32Array.from([1, 1, 1, 1, 1]))).toBeNaN();
  });

  it('accuracy, top-1 agreement and max |Δ|', () => {
    // arg-max: [1, 0, 1, 1, 1] vs labels [1, 0, 0, 0, 1] → 3/5
    expect(accuracy(logits, 2, labels)).toBeCloseTo(0.6, 12);
    const other = Float32Array.from([0, 0.5, 1, 0, 1, -1, 0.5, 1, 0, 3]); // image 2 flips
    expect(top1Agreement(logits, other, 2)).toBeCloseTo(0.8, 12);
    expect(maxAbsDifference(logits, other)).toBe(2);
  });

  it('NHWC images become NCHW batches', () => {
    // 1 image, 2×2, 2 channels: pixel p has channels [10p, 10p+1]
    const set = { n: 1, size: 2, channels: 2, x: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]) };
    expect(nchwBatch(set, 0, 1)).toEqual({ data: Float32Array.from([0, 10, 20, 30, 1, 11, 21, 31]), dims: [1, 2, 2, 2] });
  });
});

describe('per-layer profile mapping', () => {
  let graph: ReturnType<typeof decodeModel>['graph'];
  beforeAll(async () => {
    await initBackend('cpu');
    graph = decodeModel(exportOnnx(buildModel('cnn-s', { inputSize: 32 }))).graph!;
  });

  it("maps ORT's fused, NCHWc and QDQ node names back to the exported layers", () => {
    const layerOf = nodeLayerResolver(graph!);
    expect(layerOf('conv1/conv#Conv_token_4')).toBe('conv1/conv');
    expect(layerOf('stem/relu_nchwc')).toBe('stem/conv'); // Conv+Clip named by the Clip's output
    expect(layerOf('pool2_nchwc')).toBe('pool2');
    expect(layerOf('head/logits#Gemm')).toBe('head/logits');
    expect(layerOf('input_QuantizeLinear')).toBe('(quantize)');
    expect(layerOf('conv2/relu_dequantized')).toBe('(quantize)');
    expect(layerOf('ReorderOutput_token_50')).toBe('(runtime)');
  });

  it('takes the median over runs of each layer’s per-run sum', () => {
    const ev = (name: string, dur: number): ProfileEvent => ({ cat: 'Node', name: `${name}_kernel_time`, dur });
    const runs = [
      [ev('stem/relu_nchwc', 10), ev('input_QuantizeLinear', 1), ev('head/logits#Gemm', 2)],
      [ev('stem/relu_nchwc', 12), ev('input_QuantizeLinear', 1), ev('head/logits#Gemm', 2)],
      [ev('stem/relu_nchwc', 900), ev('input_QuantizeLinear', 3), ev('head/logits#Gemm', 4)], // a preempted run
    ];
    const t = layerTimes([{ cat: 'Session', name: 'model_run' }, ...runs.flat()], 3, nodeLayerResolver(graph!));
    expect(Object.fromEntries(t)).toEqual({ 'stem/conv': 12, '(quantize)': 1, 'head/logits': 2 });
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });

  it('profiles a real FP32 model: every weighted layer gets time', async () => {
    const t = await profileLayers(exportOnnx(buildModel('cnn-s', { inputSize: 32 })), [2, 1, 32, 32], { runs: 3, warmup: 1, threads: 1 });
    for (const l of ['stem/conv', 'conv1/conv', 'conv6/conv', 'head/logits']) expect(t.get(l)).toBeGreaterThan(0);
  });
});

describe('interleaved timing and the end-to-end choice (hand-computed)', () => {
  it('rotates the order each round, so every model runs in every position once per n rounds', () => {
    expect([0, 1, 2].map((r) => roundOrder(3, r))).toEqual([
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
    ]);
    expect(roundOrder(3, 4)).toEqual([1, 2, 0]);
    expect(roundOrder(1, 7)).toEqual([0]);
  });

  const bytes = { fp32: Uint8Array.of(32), int8: Uint8Array.of(8), mixed: Uint8Array.of(16) };
  const plan = (o: Partial<MixedPlan> = {}): MixedPlan => ({
    fp32: bytes.fp32,
    int8: bytes.int8,
    mixedBytes: bytes.mixed,
    keepFp32: new Set(['a#Conv', 'b#Conv', 'c#Conv', 'd#Conv']),
    all: new Set(['a#Conv', 'b#Conv', 'c#Conv', 'd#Conv', 'e#Conv', 'f#Conv', 'g#Conv', 'h#Conv']),
    layers: [],
    int8Ok: true,
    mixedOk: true,
    auc: { fp32: 0.9, mixed: 0.9 },
    agreement: 1,
    ...o,
  });

  it('keeps FP32 when the quantized models time slower (a busy machine once called such a mixed model 3.02× faster)', () => {
    // the figures of a simulate report's table: FP32 3.01 ms, INT8 4.62, mixed 3.81 at batch 32
    const c = choosePrecision(plan(), { fp32: 3.01, int8: 4.62, mixed: 3.81 }, 32);
    expect(c.chosen).toBe('fp32');
    expect(c.bytes).toBe(bytes.fp32);
    expect(c.reason).toBe('FP32 kept: no quantized model within the budget was 1.1× faster than FP32 (3.01 ms)');
  });

  it('picks the fastest model within the budget that beats FP32 by 1.1×, and says by how much', () => {
    // mixed 2.0 ms beats INT8 2.5: 3.01 / 2.0 = 1.505
    expect(choosePrecision(plan(), { fp32: 3.01, int8: 2.5, mixed: 2.0 }, 32)).toMatchObject({ chosen: 'mixed', bytes: bytes.mixed, reason: 'mixed: 4 of 8 layers FP32, 1.50× faster than FP32 at batch 32' });
    // the faster mixed model misses the accuracy budget: INT8, 3.01 / 2.5 = 1.204
    expect(choosePrecision(plan({ mixedOk: false }), { fp32: 3.01, int8: 2.5, mixed: 2.0 }, 32)).toMatchObject({ chosen: 'int8', bytes: bytes.int8, reason: 'int8: 0 of 8 layers FP32, 1.20× faster than FP32 at batch 32' });
    // 3.01 / 2.8 = 1.075 < 1.1
    expect(choosePrecision(plan({ mixedOk: false }), { fp32: 3.01, int8: 2.8, mixed: NaN }, 32).chosen).toBe('fp32');
    expect(choosePrecision(plan({ mixedOk: false, int8Ok: false }), { fp32: 3.01, int8: 1, mixed: 1 }, 32).reason).toBe('FP32 kept: no quantized model met the accuracy budget');
  });
});

describe('latency-aware mixed precision', () => {
  const SIZE = 32;
  let fp32: Uint8Array;
  let ranges: Map<string, TensorRange>;
  let evalSet: LabelledImages;
  let tmp: string;

  beforeAll(async () => {
    await initBackend('cpu');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-mixed-'));
    const model = buildModel('cnn-s', { inputSize: SIZE, numClasses: 2, seed: 5 });
    perturbWeights(model, 2);
    fp32 = exportOnnx(model);
    const x = tf.randomUniform([48, SIZE, SIZE, 1], 0, 1, 'float32', 8).dataSync() as Float32Array;
    const images = { n: 48, size: SIZE, channels: 1, x };
    // labels from a noisy copy of the FP32 scores, so the AUC is high but not 1
    const { logits } = await modelLogits(fp32, images);
    const score = Array.from({ length: 48 }, (_, i) => logits[2 * i + 1] - logits[2 * i]);
    const sorted = [...score].sort((a, b) => a - b);
    const labels = Int32Array.from(score, (s, i) => (s > sorted[24] !== (i % 9 === 0) ? 1 : 0));
    evalSet = { ...images, labels };
    ranges = await calibrate(fp32, activationsToQuantize(decodeModel(fp32).graph!), [nchwBatch(images, 0, 48)], { method: 'minmax' });
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** Fake per-layer timings: INT8 is 3× faster except where `slowInInt8` says it is 2× slower. */
  const fakeProfiler = (slowInInt8: Set<string>) => async (m: Uint8Array): Promise<Map<string, number>> => {
    const quantized = decodeOnnx(m).nodes.some((n) => n.opType === 'QuantizeLinear');
    const layers = decodeOnnx(fp32).nodes.filter((n) => /Conv|Gemm/.test(n.opType)).map((n) => n.name.split('#')[0]);
    return new Map(layers.map((l) => [l, quantized ? (slowInInt8.has(l) ? 200 : 33) : 100]));
  };
  /** Fake end-to-end timing: 10 ms per FP32 weighted node, 4 ms per INT8 one (20 where `slowInInt8`). */
  const fakeTimer = (slowInInt8: Set<string>) => async (ms: Uint8Array[]): Promise<number[]> =>
    ms.map((m) => {
      const weighted = decodeOnnx(m).nodes.filter((n) => /Conv|Gemm/.test(n.opType));
      return weighted.reduce((t, n) => t + (n.inputs[1].endsWith('_dequantized') ? (slowInInt8.has(n.name.split('#')[0]) ? 20 : 4) : 10), 0);
    });

  it('keeps the layer where INT8 is slower in FP32 (the slow stem), says why, and ORT fuses the rest', async () => {
    const r = await chooseMixedPrecision(fp32, ranges, { dims: [8, 1, SIZE, SIZE], evalSet, budget: { aucDrop: 1, minAgreement: 0 }, profiler: fakeProfiler(new Set(['stem/conv'])), timer: fakeTimer(new Set(['stem/conv'])) });
    expect(r.chosen).toBe('mixed');
    expect([...r.keepFp32]).toEqual(['stem/conv#Conv']);
    const stem = r.layers.find((l) => l.layer === 'stem/conv')!;
    expect(stem).toMatchObject({ precision: 'fp32', fp32Us: 100, int8Us: 200 });
    expect(stem.reason).toMatch(/not faster/);
    expect(r.layers.filter((l) => l.precision === 'int8').length).toBe(7);
    expect(r.latencyMs).toEqual({ fp32: 80, int8: 48, mixed: 38 });
    expect(r.reason).toBe('mixed: 1 of 8 layers FP32, 2.11× faster than FP32 at batch 8');
    const opt = path.join(tmp, 'mixed.opt.onnx');
    const s = await openSession(r.bytes, { provider: 'cpu', optimizedModelPath: opt });
    await s.release();
    const ops = decodeOnnx(new Uint8Array(await readFile(opt))).nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'QLinearConv').length).toBe(6);
    expect(ops).toContain('QGemm');
  });

  it('a layer kept FP32 in the middle stays a float Conv in ORT; no Q/DQ sits between FP32 nodes', async () => {
    const graph = decodeModel(fp32).graph!;
    const keep = expandFp32(graph, new Set(['conv2/conv#Conv']));
    expect([...keep].sort()).toEqual(['conv2/conv#Conv', 'conv2/relu#Clip', 'pool2#MaxPool']);
    const mixed = quantizeWithRanges(fp32, ranges, { keepFp32: keep });
    expect(decodeOnnx(mixed).nodes.filter((n) => n.opType === 'QuantizeLinear' && /^(conv1\/relu|conv2|pool2)/.test(n.inputs[0]))).toEqual([{ opType: 'QuantizeLinear', name: 'pool2_QuantizeLinear', inputs: ['pool2', 'pool2_scale', 'pool2_zero_point'], attrs: {} }]);
    const opt = path.join(tmp, 'middle.opt.onnx');
    const s = await openSession(mixed, { provider: 'cpu', optimizedModelPath: opt });
    await s.release();
    const nodes = decodeOnnx(new Uint8Array(await readFile(opt))).nodes;
    const fused = nodes.filter((n) => n.opType === 'QLinearConv').map((n) => n.name.split('#')[0]);
    // conv2 is float; conv1, whose output conv2 reads as float, runs unfused (the cost of an FP32 layer in the middle)
    expect(fused.sort()).toEqual(['conv3/conv', 'conv4/conv', 'conv5/conv', 'conv6/conv', 'stem/conv']);
    const layerOf = nodeLayerResolver(graph);
    expect(nodes.filter((n) => n.opType === 'Conv').map((n) => layerOf(n.name))).toContain('conv2/conv');
  });

  it('a quantized model only 5% faster than FP32 is not chosen (MIN_SPEEDUP margin against timing noise)', async () => {
    const timer = async (ms: Uint8Array[]): Promise<number[]> => ms.map((m) => (m === fp32 ? 100 : 95));
    const r = await chooseMixedPrecision(fp32, ranges, { dims: [8, 1, SIZE, SIZE], evalSet, budget: { aucDrop: 1, minAgreement: 0 }, profiler: fakeProfiler(new Set()), timer });
    expect(r.chosen).toBe('fp32');
    expect(r.reason).toBe('FP32 kept: no quantized model within the budget was 1.1× faster than FP32 (100.00 ms)');
  });

  it('with a budget INT8 cannot meet, the costliest layers go back to FP32 one by one, and FP32 wins when nothing fits', async () => {
    const r = await chooseMixedPrecision(fp32, ranges, { dims: [8, 1, SIZE, SIZE], evalSet, budget: { aucDrop: -1, minAgreement: 2 }, profiler: fakeProfiler(new Set()), timer: fakeTimer(new Set()) });
    expect(r.chosen).toBe('fp32');
    expect(r.bytes).toBe(fp32);
    expect(r.layers.every((l) => l.precision === 'fp32' && /accuracy cost/.test(l.reason))).toBe(true);
    expect(r.reason).toMatch(/no quantized model met the accuracy budget/);
  });

  it('the accuracy pass removes layers in order of their own error, measured against ORT', async () => {
    const r = await chooseMixedPrecision(fp32, ranges, { dims: [8, 1, SIZE, SIZE], evalSet, profiler: fakeProfiler(new Set()), timer: fakeTimer(new Set()) });
    // each layer's error is the mean |Δlogit| of the model with only it in INT8
    const head = r.layers.find((l) => l.layer === 'head/logits')!;
    expect(head.error).toBeGreaterThan(0);
    expect(r.auc.fp32).toBeCloseTo(binaryAuc((await modelLogits(fp32, evalSet)).logits, 2, evalSet.labels), 12);
    expect(r.auc.fp32).toBeGreaterThan(0.7);
    // within the default budget (AUC drop ≤ 0.005); the layers sent back to FP32 are the costliest ones
    expect(['int8', 'mixed']).toContain(r.chosen);
    expect(r.auc.fp32 - r.auc.mixed).toBeLessThanOrEqual(0.005);
    const kept = r.layers.filter((l) => l.precision === 'fp32').map((l) => l.error);
    const int8 = r.layers.filter((l) => l.precision === 'int8').map((l) => l.error);
    expect(int8.length).toBeGreaterThan(0);
    expect(Math.min(Infinity, ...kept)).toBeGreaterThanOrEqual(Math.max(...int8));
  });
});
