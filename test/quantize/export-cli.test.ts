import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../core/files.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildModel, saveModel } from '../../models/index.ts';
import { runCli } from '../helpers/cli.ts';
import { maxAbsDiff, perturbWeights } from './compare.ts';

const ENV = { FEDKD_BACKEND: 'cpu' };
let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-export-cli-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('fedkd export', () => {
  it('writes an ONNX file that ONNX Runtime runs like the saved model', async () => {
    const model = buildModel('cnn-s', { inputSize: 24, inputChannels: 3, numClasses: 4 });
    perturbWeights(model, 3);
    const dir = path.join(tmp, 'cnn');
    await saveModel(model, dir);
    const out = path.join(tmp, 'cnn.onnx');
    const r = runCli(['export', '--model', dir, '--out', out, '--json'], { env: ENV });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim());
    const bytes = new Uint8Array(await readFile(out));
    expect(summary).toMatchObject({ out, bytes: bytes.length, sha256: sha256(bytes), opset: 13, input: ['N', 3, 24, 24] });
    expect(summary.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    const x = tf.randomNormal([2, 24, 24, 3], 0, 1, 'float32', 8) as tf.Tensor4D;
    const { diff, dims } = await maxAbsDiff(model, bytes, x);
    expect(dims).toEqual([2, 4]);
    expect(diff).toBeLessThanOrEqual(1e-4);
  });

  it('a missing model folder is one line on stderr and exit code 2', () => {
    const r = runCli(['export', '--model', path.join(tmp, 'nothing'), '--out', path.join(tmp, 'x.onnx')], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('fedkd:'))).toEqual([`fedkd: ${path.join(tmp, 'nothing')} is not a saved model folder: model.json is missing`]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('fedkd models', () => {
  it('lists the architectures with their parameter counts and saves a seeded model', () => {
    const r = runCli(['models', '--json', '--size', '64'], { env: ENV });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout.trim()).models as { arch: string; trainableParams: number; macs: number }[];
    expect(rows.map((m) => m.arch)).toEqual(['mobile-s', 'cnn-s', 'teacher-l', 'unet-s']);
    expect(rows[0]).toMatchObject({ trainableParams: 35842, macs: 1185024 });
    const dir = path.join(tmp, 'saved');
    expect(runCli(['models', '--arch', 'unet-s', '--size', '16', '--save', dir], { env: ENV }).code).toBe(0);
    expect(runCli(['export', '--model', dir, '--out', path.join(tmp, 'unet.onnx')], { env: ENV }).code).toBe(0);
  });

  it('an unknown architecture is a one-line error naming the choices, exit 2', () => {
    const r = runCli(['models', '--arch', 'vgg'], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("fedkd: unknown architecture 'vgg': choose one of mobile-s, cnn-s, teacher-l, unet-s");
  });
});
