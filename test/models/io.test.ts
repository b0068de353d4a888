import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { ARCHS, buildModel, getNamedWeights, loadModel, saveModel, setNamedWeights } from '../../models/index.ts';

let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fedkd-models-io-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Gives every weight (BN moving statistics included) seeded non-trivial values. */
function perturb(m: tf.LayersModel, seed: number): void {
  setNamedWeights(
    m,
    getNamedWeights(m).map((t, i) => {
      const r = tf.randomUniform([t.data.length], 0.5, 1.5, 'float32', seed + i).dataSync() as Float32Array;
      return { ...t, data: t.data.map((v, j) => (t.name.endsWith('moving_variance') ? r[j] : v + r[j] - 1)) };
    }),
  );
}

describe('saveModel / loadModel', () => {
  it.each(ARCHS)('%s comes back with the same weights and bit-identical outputs', async (arch) => {
    const m = buildModel(arch, { inputSize: 16, inputChannels: 2, numClasses: 3, seed: 5 });
    perturb(m, 11);
    const dir = path.join(tmp, arch);
    await saveModel(m, dir);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    const back = await loadModel(dir);
    expect(back.name).toBe(m.name);
    expect(back.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name));
    const a = getNamedWeights(m);
    const b = getNamedWeights(back);
    expect(b.map((t) => t.name)).toEqual(a.map((t) => t.name));
    a.forEach((t, i) => expect(Buffer.from(b[i].data.buffer).equals(Buffer.from(t.data.buffer))).toBe(true));
    const x = tf.randomNormal([2, 16, 16, 2], 0, 1, 'float32', 9);
    const ya = (m.predict(x) as tf.Tensor).dataSync() as Float32Array;
    const yb = (back.predict(x) as tf.Tensor).dataSync() as Float32Array;
    expect(Buffer.from(yb.buffer).equals(Buffer.from(ya.buffer))).toBe(true);
  });

  it('writes the tfjs layers-model format with a weights manifest and sha256', async () => {
    const dir = path.join(tmp, 'format');
    const m = buildModel('mobile-s', { inputSize: 16 });
    await saveModel(m, dir);
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(getNamedWeights(m).map((t) => t.name));
    const bytes = (await readFile(path.join(dir, 'weights.bin'))).length;
    expect(bytes).toBe(4 * 37314);
    expect(json.fedkd.weightsBytes).toBe(bytes);
  });

  it('overwrites an existing save and leaves no temporary files', async () => {
    const dir = path.join(tmp, 'twice');
    await saveModel(buildModel('cnn-s', { inputSize: 16, seed: 1 }), dir);
    const second = buildModel('cnn-s', { inputSize: 16, seed: 2 });
    await saveModel(second, dir);
    expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
    expect(getNamedWeights(await loadModel(dir))[0].data).toEqual(getNamedWeights(second)[0].data);
  });

  it('a missing folder, a missing file, bad JSON or mismatched weights → UserError', async () => {
    await expect(loadModel(path.join(tmp, 'nowhere'))).rejects.toThrow(/not a saved model folder: model.json is missing/);
    const dir = path.join(tmp, 'broken');
    await saveModel(buildModel('mobile-s', { inputSize: 16 }), dir);
    const weights = await readFile(path.join(dir, 'weights.bin'));
    weights[100] ^= 0xff;
    await writeFile(path.join(dir, 'weights.bin'), weights);
    await expect(loadModel(dir)).rejects.toThrow(/does not match model.json/);
    await rm(path.join(dir, 'weights.bin'));
    await expect(loadModel(dir)).rejects.toThrow(/weights.bin is missing/);
    await writeFile(path.join(dir, 'model.json'), '{not json');
    await expect(loadModel(dir)).rejects.toThrow(UserError);
    await writeFile(path.join(dir, 'model.json'), '{"hello": 1}');
    await expect(loadModel(dir)).rejects.toThrow(/not a tfjs layers model/);
  });
});
