import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { initBackend } from '../../engine/backend.ts';
import { buildMaskDecoder } from '../../models/mask-decoder.ts';
import { rasterizeBox } from '../../train/box-prompt.ts';
import { decoderSet, disposeDecoderBatch, makeDecoderBatch, pickRows, type EmbeddingSource } from '../../train/decoder-data.ts';
import { decoderStep, evaluateDecoder, iou, trainMaskDecoder } from '../../train/mask-decoder-train.ts';
import { activationValues, estimateMemory, parseBytes, planMemory } from '../../train/memory-plan.ts';
import { dice } from '../../train/metrics.ts';
import { LocalOptimizer } from '../../train/optimizer.ts';
import { trainableVariables } from '../../train/weights.ts';

const S = 32;
const H = 8;
const C = 4;

/**
 * A toy embedding source: each image holds one right triangle, the lower-left or upper-right
 * half of a square, so its box alone scores Dice 2/3 and the decoder must read the map. Channel
 * 0 of the 8×8 map is the triangle's coverage of each cell plus noise, channels 1–3 are noise.
 */
function triangleSource(n: number, seed: number): EmbeddingSource {
  const rng = new Rng(seed);
  const masks = new Float32Array(n * S * S);
  const maps = new Float32Array(n * H * H * C);
  for (let i = 0; i < n; i++) {
    const side = Math.floor(rng.uniform(10, 18));
    const x0 = Math.floor(rng.uniform(2, S - side - 2));
    const y0 = Math.floor(rng.uniform(2, S - side - 2));
    const lower = rng.next() < 0.5;
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) if (lower ? x <= y : x >= y) masks[i * S * S + (y0 + y) * S + x0 + x] = 1;
    for (let y = 0; y < H; y++) for (let x = 0; x < H; x++) {
      let cover = 0;
      for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) cover += masks[i * S * S + (4 * y + dy) * S + 4 * x + dx] / 16;
      const at = ((i * H + y) * H + x) * C;
      maps[at] = cover + 0.1 * rng.normal();
      for (let c = 1; c < C; c++) maps[at + c] = rng.normal();
    }
  }
  const header = { key: 'toy', encoderSha256: 'toy', preprocess: null, n, height: H, width: H, channels: C, imageSize: S, files: [], labels: [], hasMasks: true };
  return { header, masks, row: (i: number) => maps.slice(i * H * H * C, (i + 1) * H * H * C) };
}

beforeAll(async () => {
  await initBackend();
});

describe('mask decoder', () => {
  it('maps [N, h, h, C] embeddings and [N, S, S, 1] boxes to [N, S, S, 1] logits', () => {
    const m = buildMaskDecoder({ embedSize: H, embedChannels: C, imageSize: S, width: 16 });
    const y = m.predict([tf.zeros([2, H, H, C]), tf.zeros([2, S, S, 1])]) as tf.Tensor;
    expect(y.shape).toEqual([2, S, S, 1]);
    expect(() => buildMaskDecoder({ embedSize: 8, embedChannels: C, imageSize: 40 })).toThrow(/power of two/);
    m.dispose();
  });

  it('learns triangles from 16 shots: held-out Dice > 0.85, above the box alone (≈ 2/3, the untrained decoder), and its Dice/IoU match a recount', async () => {
    const source = triangleSource(40, 1);
    const all = decoderSet(source);
    const train = pickRows(all, [...Array(16).keys()]);
    const val = pickRows(all, [16, 17, 18, 19, 20, 21, 22, 23]);
    const test = pickRows(all, [...Array(16).keys()].map((i) => 24 + i));
    const model = buildMaskDecoder({ embedSize: H, embedChannels: C, imageSize: S, width: 16, seed: 3 });
    const before = evaluateDecoder(model, test, 8);
    const r = await trainMaskDecoder({ model, train, val, config: { epochs: 40, batchSize: 2, lr: 5e-3, seed: 1, patience: 40, augment: { dihedral: true, jitterPx: 0.5, noise: 0.05 } } });
    const after = evaluateDecoder(model, test, 8);
    // the untrained decoder is its box prior: the filled box, whose Dice is counted here by hand
    const boxDice = test.rows.reduce((a, r, i) => a + dice(rasterizeBox(test.boxes[i], S), source.masks!.subarray(r * S * S, (r + 1) * S * S)), 0) / test.rows.length;
    expect(before.dice).toBeCloseTo(boxDice, 9);
    expect(before.dice).toBeLessThan(0.72);
    expect(after.dice).toBeGreaterThan(0.85);
    // best epoch kept: the model's validation Dice is the best epoch's
    expect(evaluateDecoder(model, val, 4).dice).toBeCloseTo(Math.max(...r.history.map((e) => e.val!.dice)), 6);
    expect(r.val?.dice).toBeCloseTo(r.history[r.bestEpoch].val!.dice, 12);
    // recount with predict and the pure metric functions
    const b = makeDecoderBatch(test, [...Array(16).keys()]);
    const z = (model.predict([b.embedding, b.box]) as tf.Tensor).dataSync();
    const g = b.masks.dataSync();
    let d = 0;
    let j = 0;
    for (let i = 0; i < 16; i++) {
      const p = Array.from(z.slice(i * S * S, (i + 1) * S * S), (v) => (v > 0 ? 1 : 0));
      d += dice(p, g.slice(i * S * S, (i + 1) * S * S)) / 16;
      j += iou(p, g.slice(i * S * S, (i + 1) * S * S)) / 16;
    }
    disposeDecoderBatch(b);
    expect(after.dice).toBeCloseTo(d, 9);
    expect(after.iou).toBeCloseTo(j, 9);
    model.dispose();
  });

  it('trains with batch size 1 and stops early when validation does not improve', async () => {
    const source = triangleSource(6, 2);
    const all = decoderSet(source);
    const model = buildMaskDecoder({ embedSize: H, embedChannels: C, imageSize: S, width: 8 });
    const start = model.getWeights()[0].dataSync().slice();
    const r = await trainMaskDecoder({ model, train: pickRows(all, [0, 1, 2]), val: pickRows(all, [3, 4]), config: { epochs: 50, batchSize: 1, lr: 0, seed: 0, patience: 2 } });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history).toHaveLength(3);
    expect(r.history.every((e) => Number.isFinite(e.trainLoss))).toBe(true);
    const r2 = await trainMaskDecoder({ model, train: pickRows(all, [0, 1, 2]), config: { epochs: 2, batchSize: 1, lr: 1e-2, seed: 0 } });
    expect(r2.history).toHaveLength(2);
    expect(Array.from(model.getWeights()[0].dataSync())).not.toEqual(Array.from(start));
    model.dispose();
  });
});

describe('memory planner', () => {
  it('estimates the tensor peak of a training step within 20% of tf.profile', async () => {
    const n = 8;
    const source = triangleSource(n, 5);
    const set = decoderSet(source);
    for (const [c, bs] of [[16, 1], [16, 4], [4, 2]] as const) {
      const bytesBefore = tf.memory().numBytes;
      const model = buildMaskDecoder({ embedSize: H, embedChannels: c, imageSize: S });
      const src: EmbeddingSource = { ...source, header: { ...source.header, channels: c }, row: () => Float32Array.from({ length: H * H * c }, (_, i) => Math.sin(i)) };
      const s2 = { ...set, source: src };
      const vars = trainableVariables(model);
      const opt = new LocalOptimizer(vars, { kind: 'adam' });
      const warm = makeDecoderBatch(s2, [0]);
      decoderStep(model, vars, opt, warm, 1e-3);
      disposeDecoderBatch(warm);
      const prof = await tf.profile(() => {
        const b = makeDecoderBatch(s2, Array.from({ length: bs }, (_, i) => i % n));
        decoderStep(model, vars, opt, b, 1e-3);
        disposeDecoderBatch(b);
      });
      const measured = prof.peakBytes - bytesBefore;
      const est = estimateMemory({ images: n, embedShape: [H, H, c], imageSize: S, params: model.countParams(), activationsPerImage: activationValues(model), baselineBytes: 0 }, bs, 'memory');
      expect(est.tensorPeak / measured, `channels ${c}, batch ${bs}`).toBeGreaterThan(0.8);
      expect(est.tensorPeak / measured, `channels ${c}, batch ${bs}`).toBeLessThan(1.2);
      opt.dispose();
      model.dispose();
    }
  });

  it('picks the largest batch that fits, streams embeddings before giving up, and names an impossible budget', () => {
    const m = { images: 1000, embedShape: [64, 64, 256] as [number, number, number], imageSize: 1024, params: 4_000_000, activationsPerImage: 30_000_000, baselineBytes: 200 * 2 ** 20 };
    const opts = { maxBatch: 8, trainImages: 20 };
    const emb = 1000 * 64 * 64 * 256 * 2;
    const at = (b: number, c: 'memory' | 'stream'): number => estimateMemory(m, b, c).total;
    expect(estimateMemory(m, 2, 'memory').embeddings).toBe(emb);
    expect(estimateMemory(m, 2, 'stream').embeddings).toBe(64 * 64 * 256 * 2);
    expect(at(4, 'memory') - at(2, 'memory')).toBeCloseTo(2 * (at(2, 'memory') - at(1, 'memory')), 0);
    const big = planMemory(m, at(8, 'memory'), opts);
    expect([big.batchSize, big.caching]).toEqual([8, 'memory']);
    const mid = planMemory(m, at(4, 'memory') + 1, opts);
    expect([mid.batchSize, mid.caching]).toEqual([4, 'memory']);
    const streamed = planMemory(m, at(1, 'memory') - 1, opts);
    expect(streamed.caching).toBe('stream');
    expect(() => planMemory(m, at(1, 'stream') - 1, opts)).toThrow(/memory budget/);
    expect(planMemory(m, 64 * 2 ** 30, { ...opts, batchSize: 3 }).batchSize).toBe(3);
    expect(parseBytes('8GB')).toBe(8 * 2 ** 30);
    expect(parseBytes('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseBytes('1000')).toBe(1000);
    expect(() => parseBytes('lots')).toThrow(/size/);
  });
});
