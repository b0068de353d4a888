import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecoderTrainer, decoderSpec } from '../../client/decoder-trainer.ts';
import { decodeCount, loadDataset, readLabels } from '../../data/index.ts';
import { synthesizeFederation } from '../../data/synth/federation.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildMaskDecoder } from '../../models/mask-decoder.ts';
import { getNamedWeights } from '../../models/weights.ts';
import { boxOfMask } from '../../train/box-prompt.ts';
import { convEncoderOnnx } from '../distill/conv-encoder.ts';

describe('DecoderTrainer (federated decoder-only fine-tuning)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'dec-site-'));
  const encoder = path.join(root, 'enc.onnx');
  const site = path.join(root, 'fed', 'site-a');
  const pre = { size: 16, channels: 1 as const, window: 'file' as const, normalize: 'zscore' as const };

  beforeAll(async () => {
    await initBackend();
    writeFileSync(encoder, convEncoderOnnx([0.5, -0.25, 0.125, 1, -1, 0.75, 0.5, -0.5], [0.1, -0.2]));
    writeFileSync(`${encoder}.json`, JSON.stringify({ preprocess: pre }));
    await synthesizeFederation({ out: path.join(root, 'fed'), sites: 1, imagesPerSite: 40, size: 16, seed: 7, largeFactor: 1, testFraction: 0.3 });
  });

  it('sends back only decoder weights, trained from the global ones, and scores the held-out split', async () => {
    const t = new DecoderTrainer(site, encoder);
    expect(await t.datasetSize()).toBe(readLabels(path.join(site, 'train')).length);
    expect((await t.capabilities()).trainer).toBe('mask-decoder');
    const global = getNamedWeights(buildMaskDecoder({ embedSize: 8, embedChannels: 2, imageSize: 16, width: 32, seed: 0 }));
    const fit = await t.fit(global, { round: 1, localEpochs: 2, task: 'mask-decoder', shots: 4, batchSize: 1 });
    expect(fit.weights.map((w) => [w.name, w.shape])).toEqual(global.map((w) => [w.name, w.shape]));
    expect(fit.weights.every((w) => w.name.startsWith('dec/'))).toBe(true);
    expect(fit.weights.some((w, i) => w.data.some((v, j) => v !== global[i].data[j]))).toBe(true);
    expect(fit.numExamples).toBe(4);
    expect(Number.isFinite(fit.metrics.loss)).toBe(true);

    const test = await loadDataset(path.join(site, 'test'), pre);
    const prompted = Array.from({ length: test.n }, (_, i) => boxOfMask(test.masks!, 16, i * 256)).filter(Boolean).length;
    const ev = await t.evaluate(fit.weights, null);
    expect(ev.numExamples).toBe(prompted);
    expect(ev.metrics.dice).toBeGreaterThanOrEqual(0);
    expect(ev.metrics.dice).toBeLessThanOrEqual(1);
  });

  it('trains again from the cached embeddings after the images are gone, decoding nothing', async () => {
    const t = new DecoderTrainer(site, encoder);
    await t.fit(getNamedWeights(buildMaskDecoder({ embedSize: 8, embedChannels: 2, imageSize: 16 })), { round: 1, localEpochs: 1, shots: 2 });
    for (const r of readLabels(path.join(site, 'train'))) rmSync(r.file);
    const fresh = new DecoderTrainer(site, encoder);
    const before = decodeCount();
    const fit = await fresh.fit(getNamedWeights(buildMaskDecoder({ embedSize: 8, embedChannels: 2, imageSize: 16 })), { round: 2, localEpochs: 1, shots: 2 });
    expect(fit.numExamples).toBe(2);
    expect(decodeCount()).toBe(before);
  });

  it('refuses a round meant for another task', () => {
    expect(() => decoderSpec({ round: 1, localEpochs: 1, task: 'kd' })).toThrow(/mask-decoder/);
    expect(decoderSpec({ round: 1, localEpochs: 1, lr: 0.01, shots: 5 })).toMatchObject({ lr: 0.01, shots: 5, batchSize: 2 });
  });
});
