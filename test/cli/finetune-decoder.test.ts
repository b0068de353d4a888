import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { unpackTensors } from '../../core/tensors.ts';
import { readLabels } from '../../data/index.ts';
import { EmbeddingFile } from '../../distill/embedding-store.ts';
import { embedDataset } from '../../distill/embeddings.ts';
import { initBackend } from '../../engine/backend.ts';
import { loadModel } from '../../models/index.ts';
import { decoderSet, makeDecoderBatch } from '../../train/decoder-data.ts';
import { dice } from '../../train/metrics.ts';
import { runCli } from '../helpers/cli.ts';

describe('fedkd encoder train → embed → finetune-decoder', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'cli-dec-'));
  const fed = path.join(root, 'fed');
  const enc = path.join(root, 'enc.onnx');
  const out = path.join(root, 'dec');

  it('runs end to end; the decoder-only run reads no image; the reported test Dice is the saved decoder’s', async () => {
    expect(runCli(['synth', '--out', fed, '--sites', '2', '--images-per-site', '48', '--size', '32', '--large-factor', '1', '--seed', '2']).code).toBe(0);
    const site = path.join(fed, 'site-b');
    const e = runCli(['encoder', 'train', '--data', path.join(fed, 'site-a'), '--out', enc, '--epochs', '1', '--size', '32', '--batch-size', '8', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const encReport = JSON.parse(e.stdout) as { embedShape: number[]; exportMaxAbsDiff: number; preprocess: { size: number } };
    expect(encReport.embedShape).toEqual([8, 8, 128]); // unet-l, the default teacher
    expect(encReport.exportMaxAbsDiff).toBeLessThan(1e-3);

    const em = runCli(['embed', '--encoder', enc, '--data', site, '--json']);
    expect(em.code, em.stderr).toBe(0);
    const parts = (JSON.parse(em.stdout) as { parts: { part: string; computed: boolean; images: number }[] }).parts;
    expect(parts.map((p) => [p.part, p.computed])).toEqual([['train', true], ['test', true]]);

    // the images go: the decoder-only run must live on the cache
    for (const part of ['train', 'test']) for (const r of readLabels(path.join(site, part))) rmSync(r.file);
    const f = runCli(['finetune-decoder', '--encoder', enc, '--data', site, '--shots', '5', '--val', '3', '--epochs', '3', '--out', out, '--memory-budget', '2GB', '--json']);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/tensors estimated .* measured .* RSS peak/);
    const rep = JSON.parse(f.stdout) as { imagesDecoded: number; embeddingsComputed: boolean; shots: number; epochs: number; test: { dice: number; n: number }; memory: { estimate: { tensorPeak: number; batchSize: number }; measured: { tensorPeak: number; rssPeak: number } } };
    expect(rep.imagesDecoded).toBe(0);
    expect(rep.embeddingsComputed).toBe(false);
    expect(rep.epochs).toBe(3);
    expect(rep.memory.estimate.tensorPeak / rep.memory.measured.tensorPeak).toBeGreaterThan(0.8);
    expect(rep.memory.estimate.tensorPeak / rep.memory.measured.tensorPeak).toBeLessThan(1.2);
    expect(existsSync(path.join(out, 'metrics.json'))).toBe(true);

    // recount the test Dice from the saved decoder and the cached test embeddings
    await initBackend();
    const model = await loadModel(out);
    const test = (await embedDataset(enc, path.join(site, 'test'), encReport.preprocess as never)).store as EmbeddingFile;
    const set = decoderSet(test);
    const b = makeDecoderBatch(set, set.rows.map((_, i) => i));
    const z = (model.predict([b.embedding, b.box]) as tf.Tensor).dataSync();
    const g = b.masks.dataSync();
    const px = 32 * 32;
    let d = 0;
    for (let i = 0; i < set.rows.length; i++) d += dice(Array.from(z.slice(i * px, (i + 1) * px), (v) => (v > 0 ? 1 : 0)), g.slice(i * px, (i + 1) * px)) / set.rows.length;
    expect(rep.test.n).toBe(set.rows.length);
    expect(rep.test.dice).toBeCloseTo(d, 6);
    const w = unpackTensors(new Uint8Array(readFileSync(path.join(out, 'decoder.fkw'))));
    expect(w.map((t) => t.name)).toEqual(model.weights.map((v) => v.originalName));
  }, 240_000);

  it('says in one line when the budget cannot hold the run', () => {
    const r = runCli(['finetune-decoder', '--encoder', enc, '--data', path.join(fed, 'site-b'), '--shots', '5', '--out', out, '--memory-budget', '1MB']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/more than the memory budget of 1\.0 MiB/);
  });
});
