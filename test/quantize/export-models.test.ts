import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../engine/backend.ts';
import { ARCHS, buildModel } from '../../models/index.ts';
import { exportOnnx, writeOnnx } from '../../quantize/export/index.ts';
import { decodeOnnx, maxAbsDiff, perturbWeights } from './compare.ts';
import { onnxCheck, pythonWithOnnx } from './python-onnx.ts';

/** The bound: ONNX Runtime vs tfjs, max abs difference. */
const TOLERANCE = 1e-4;
const SIZE = 32;

let tmp: string;
const written: string[] = [];
beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-export-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A few SGD steps on random data, so the exported model has been through tfjs training. */
async function trainBriefly(model: tf.LayersModel, channels: number, classes: number): Promise<void> {
  const x = tf.randomNormal([8, SIZE, SIZE, channels], 0.5, 1, 'float32', 3);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1].map((c) => c % classes), 'int32'), classes);
  model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { batchSize: 4, epochs: 2, verbose: 0, shuffle: false });
}

describe.each(ARCHS)('%s exported to ONNX', (arch) => {
  const channels = arch === 'cnn-s' ? 3 : 1;
  const classes = 3;
  let model: tf.LayersModel;
  let bytes: Uint8Array;

  beforeAll(async () => {
    model = buildModel(arch, { inputSize: SIZE, inputChannels: channels, numClasses: classes, seed: 17 });
    if (arch === 'mobile-s') await trainBriefly(model, channels, classes);
    perturbWeights(model, 23);
    const file = path.join(tmp, `${arch}.onnx`);
    await writeOnnx(model, file);
    written.push(file);
    bytes = exportOnnx(model);
  });

  it(`matches tfjs within ${TOLERANCE} (max abs) in ONNX Runtime, for batches of 3 and 1`, async () => {
    for (const [n, seed] of [
      [3, 5],
      [1, 6],
    ]) {
      const x = tf.randomNormal([n, SIZE, SIZE, channels], 0, 1, 'float32', seed) as tf.Tensor4D;
      const { diff, dims, scale } = await maxAbsDiff(model, bytes, x);
      expect(dims).toEqual(arch === 'unet-s' ? [n, 1, SIZE, SIZE] : [n, classes]);
      expect(scale).toBeGreaterThan(0.01); // outputs are not trivially zero
      console.log(`${arch}: batch ${n}, max |tfjs| ${scale.toPrecision(3)}, max |ORT − tfjs| ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('is FP32 opset 13 with input [N,C,H,W], output logits, and no BatchNormalization left', () => {
    const m = decodeOnnx(bytes);
    expect(m.opset).toBe(13);
    expect(m.inputs).toEqual([{ name: 'input', dims: ['N', channels, SIZE, SIZE] }]);
    expect(m.outputs).toEqual([{ name: 'logits', dims: arch === 'unet-s' ? ['N', 1, SIZE, SIZE] : ['N', classes] }]);
    const ops = m.nodes.map((n) => n.opType);
    expect(ops).not.toContain('BatchNormalization');
    expect(ops.filter((o) => o === 'Mul')).toEqual([]); // every BN folded into its conv
    const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D' || l.getClassName() === 'DepthwiseConv2D').length;
    expect(ops.filter((o) => o === 'Conv').length).toBe(convs);
  });
});

describe('export details', () => {
  it('mobile-s depthwise convs become grouped Convs, the head a Gemm after GlobalAveragePool + Flatten', () => {
    const m = decodeOnnx(exportOnnx(buildModel('mobile-s', { inputSize: 16 })));
    const groups = m.nodes.filter((n) => n.opType === 'Conv').map((n) => n.attrs.group);
    expect(groups).toEqual([1, 16, 1, 32, 1, 64, 1, 64, 1, 128, 1]);
    expect(m.nodes.slice(-3).map((n) => n.opType)).toEqual(['GlobalAveragePool', 'Flatten', 'Gemm']);
  });

  it('teacher-l keeps its residual Adds and drops its Dropout', () => {
    const m = decodeOnnx(exportOnnx(buildModel('teacher-l', { inputSize: 16 })));
    const ops = m.nodes.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Add').length).toBe(5);
    expect(ops).not.toContain('Dropout');
  });

  it('passes onnx.checker (full check) when python3-onnx is installed', () => {
    const py = pythonWithOnnx();
    if (!py) {
      console.warn('python3-onnx not found: skipping only the onnx.checker step');
      return;
    }
    const r = onnxCheck(py, written);
    expect(r.output).toContain(`ok ${ARCHS.length}`);
    expect(r.ok).toBe(true);
  });
});
