import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { buildModel } from '../../models/index.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { convertToFp16, fp16Compute, fromFloat16Bits, toFloat16Bits } from '../../quantize/fp16.ts';
import { DataType, decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { openSession, type FloatTensor } from '../../runtime/session.ts';
import { decodeOnnx, perturbWeights } from './compare.ts';

describe('float16 bits (hand-computed IEEE 754 binary16)', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [1e6, 0x7bff], // clamped, not Inf
    [-1e6, 0xfbff],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway to the smallest subnormal: ties to even (0)
    [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: ties to even (2)
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: ties to even
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd below: rounds up
    [1 + 2 ** -10, 0x3c01],
    [0.1, 0x2e66],
    [-0, 0x8000],
  ])('%d → %i', (v, bits) => {
    expect(toFloat16Bits(v)).toBe(bits);
  });

  it('NaN stays NaN; bits decode back to the value', () => {
    expect(toFloat16Bits(NaN)).toBe(0x7e00);
    expect(fromFloat16Bits(0x3c01)).toBe(1 + 2 ** -10);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(0x2e66)).toBeCloseTo(0.0999755859375, 12);
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
  });
});

describe('FP16 model (float16 initialisers and compute, float32 at the boundaries)', () => {
  let fp32: Uint8Array;
  let tmp: string;
  const x: FloatTensor = (() => {
    const t = tf.randomUniform([3, 1, 32, 32], 0, 1, 'float32', 5);
    return { data: t.dataSync() as Float32Array, dims: t.shape };
  })();

  beforeAll(async () => {
    await initBackend('cpu');
    tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-fp16-'));
    const model = buildModel('cnn-s', { inputSize: 32, numClasses: 3, seed: 4 });
    perturbWeights(model, 7);
    fp32 = exportOnnx(model);
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  const run = async (bytes: Uint8Array, opt?: string): Promise<Float32Array> => {
    const s = await openSession(bytes, { provider: 'cpu', ...(opt ? { optimizedModelPath: opt } : {}) });
    const out = (await s.run({ input: x })).logits.data.slice();
    await s.release();
    return out;
  };

  it('every weight is float16 whose value is the rounded FP32 weight; the file is about half', async () => {
    const bytes = convertToFp16(fp32);
    const f = new Map(decodeModel(fp32).graph!.initializer!.map((t) => [t.name, t]));
    const h = decodeModel(bytes).graph!.initializer!;
    const w = h.find((t) => t.name === 'conv3/conv/W')!;
    expect(w.dataType).toBe(DataType.FLOAT16);
    const ref = new Float32Array(new Uint8Array(f.get('conv3/conv/W')!.rawData!).slice().buffer);
    const bits = new Uint16Array(new Uint8Array(w.rawData!).slice().buffer);
    for (let i = 0; i < ref.length; i += 37) expect(fromFloat16Bits(bits[i])).toBe(Math.fround(fromFloat16Bits(toFloat16Bits(ref[i]))));
    expect(h.filter((t) => t.dataType === DataType.FLOAT)).toEqual([]);
    expect(bytes.length).toBeLessThan(0.55 * fp32.length);
  });

  it('runs in ORT within 1% of FP32, float32 in and out; ORT says where it computes', async () => {
    const bytes = convertToFp16(fp32);
    const io = decodeOnnx(bytes);
    expect([io.inputs[0].name, io.outputs[0].name]).toEqual(['input', 'logits']);
    expect(io.nodes[0]).toMatchObject({ opType: 'Cast', inputs: ['input'] });
    expect(io.nodes.at(-1)).toMatchObject({ opType: 'Cast', name: 'logits#CastToFp32' });
    const [a, b] = [await run(fp32), await run(bytes)];
    const scale = Math.max(...Array.from(a, Math.abs));
    expect(scale).toBeGreaterThan(0.01);
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(0.01 * scale);
    expect(a).not.toEqual(b); // float16 weights do change the numbers
    // x86 onnxruntime-node 1.30 has no float16 Conv kernel: its optimised graph upcasts
    const opt = path.join(tmp, 'fp16.opt.onnx');
    await run(bytes, opt);
    const upcast = decodeOnnx(new Uint8Array(await readFile(opt))).nodes.some((n) => n.opType === 'Conv' && n.name.startsWith('InsertedPrecisionFreeCast'));
    expect(await fp16Compute(bytes)).toBe(upcast ? 'float32' : 'float16');
  });

  it('an op kept in FP32 runs between Casts and gives the same logits within 1%', async () => {
    const mixed = convertToFp16(fp32, new Set(['Gemm']));
    const nodes = decodeOnnx(mixed).nodes;
    const gemm = nodes.find((n) => n.opType === 'Gemm')!;
    expect(gemm.inputs.every((t) => t.includes('_as_fp32_'))).toBe(true);
    expect(nodes.filter((n) => n.opType === 'Cast').length).toBe(2 + 3 + 1); // boundaries + 3 Gemm inputs + its output
    const [a, b] = [await run(fp32), await run(mixed)];
    const scale = Math.max(...Array.from(a, Math.abs));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(0.01 * scale);
  });
});
