import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { EmbeddingFile, writeEmbeddingFile } from '../../distill/embedding-store.ts';
import { fromHalf, toHalf } from '../../distill/float16.ts';
import { boxOfMask, jitterBox, medsamJitter, rasterizeBox } from '../../train/box-prompt.ts';
import { cachedBytes, decoderSet, float32Source, makeDecoderBatch } from '../../train/decoder-data.ts';
import { estimateMemory } from '../../train/memory-plan.ts';
import { dihedral, mapBox, mapGrid } from '../../train/dihedral.ts';
import { iou } from '../../train/mask-decoder-train.ts';
import { dice } from '../../train/metrics.ts';

/** An S×S mask with the pixels of rectangle [x0, x1) × [y0, y1) set. */
function rectMask(s: number, x0: number, y0: number, x1: number, y1: number): Float32Array {
  const m = new Float32Array(s * s);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * s + x] = 1;
  return m;
}

describe('box prompts', () => {
  it('finds the tight box of a mask (exclusive far edges), none for an empty mask', () => {
    const m = new Float32Array(36);
    m[1 * 6 + 2] = 1;
    m[3 * 6 + 4] = 1;
    expect(boxOfMask(m, 6)).toEqual({ x0: 2, y0: 1, x1: 5, y1: 4 });
    expect(boxOfMask(new Float32Array(36), 6)).toBeUndefined();
  });

  it('rasterises fractional edges as covered area', () => {
    const r = rasterizeBox({ x0: 0.5, y0: 1, x1: 2, y1: 2.25 }, 3);
    // rows: y=0 outside; y=1 full; y=2 a quarter. cols: x=0 half, x=1 full, x=2 outside
    expect(Array.from(r)).toEqual([0, 0, 0, 0.5, 1, 0, 0.125, 0.25, 0]);
  });

  it('jitters each edge by at most maxPx, seeded, staying inside the image', () => {
    const b = { x0: 10, y0: 12, x1: 20, y1: 30 };
    const a1 = jitterBox(b, 3, 64, new Rng(5));
    expect(jitterBox(b, 3, 64, new Rng(5))).toEqual(a1);
    const rng = new Rng(9);
    for (let i = 0; i < 200; i++) {
      const j = jitterBox(b, 3, 64, rng);
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(j[k] - b[k])).toBeLessThanOrEqual(3);
    }
    const edge = jitterBox({ x0: 0, y0: 0, x1: 1, y1: 1 }, 5, 8, new Rng(2));
    expect(edge.x0).toBeGreaterThanOrEqual(0);
    expect(edge.x1 - edge.x0).toBeGreaterThanOrEqual(1 - 1e-9);
    expect(medsamJitter(1024)).toBe(20);
    expect(medsamJitter(64)).toBe(1.25);
  });
});

describe('dihedral moves', () => {
  it('turn a 2×3 pattern a quarter turn as worked out by hand', () => {
    // 3×3 grid, values = index; one turn maps (x, y) ↦ (y, 3 − x) on centres
    const src = Float32Array.from({ length: 9 }, (_, i) => i);
    const out = mapGrid(dihedral(1), src, 3, 1);
    // pixel (x=0,y=0) → centre (0.5,0.5) → (0.5, 2.5) → pixel (x=0,y=2)
    expect(out[2 * 3 + 0]).toBe(0);
    expect(Array.from(out)).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect(Array.from(mapGrid(dihedral(4), src, 3, 1))).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6]);
  });

  it('move a mask and its box alike, for all eight elements; four turns are the identity', () => {
    const m = rectMask(10, 1, 2, 4, 7);
    for (let k = 0; k < 8; k++) {
      const d = dihedral(k);
      expect(boxOfMask(mapGrid(d, m, 10, 1), 10), `element ${k}`).toEqual(mapBox(d, boxOfMask(m, 10)!, 10));
    }
    let g: Float32Array = Float32Array.from({ length: 4 * 4 * 2 }, (_, i) => i);
    const start = Array.from(g);
    for (let t = 0; t < 4; t++) g = mapGrid(dihedral(1), g, 4, 2);
    expect(Array.from(g)).toEqual(start);
  });

  it('keep embedding, mask and box consistent inside an augmented batch', () => {
    const s = 8;
    const h = 4;
    const n = 3;
    const maps = Float32Array.from({ length: n * h * h * 2 }, (_, i) => i);
    const masks = new Float32Array(n * s * s);
    masks.set(rectMask(s, 1, 0, 3, 5), 0);
    masks.set(rectMask(s, 4, 4, 8, 6), s * s);
    masks.set(rectMask(s, 0, 6, 2, 8), 2 * s * s);
    const source = { header: { n, height: h, width: h, channels: 2, imageSize: s } as never, masks, row: (i: number): Float32Array => maps.slice(i * h * h * 2, (i + 1) * h * h * 2) };
    const set = decoderSet(source);
    const b = makeDecoderBatch(set, [0, 1, 2, 0, 1, 2], { dihedral: true, jitterPx: 0, noise: 0 }, new Rng(4));
    const emb = b.embedding.dataSync();
    const box = b.box.dataSync();
    const msk = b.masks.dataSync();
    const seen = new Set<number>();
    [0, 1, 2, 0, 1, 2].forEach((row, i) => {
      const gotMask = msk.slice(i * s * s, (i + 1) * s * s);
      // the box channel is the rasterised box of the moved mask
      expect(Array.from(box.slice(i * s * s, (i + 1) * s * s))).toEqual(Array.from(rasterizeBox(boxOfMask(gotMask, s)!, s)));
      // the element that moved the mask moved the embedding map too
      const k = [...Array(8).keys()].find((e) => Array.from(mapGrid(dihedral(e), masks.slice(row * s * s, (row + 1) * s * s), s, 1)).join() === Array.from(gotMask).join());
      expect(k).toBeDefined();
      expect(Array.from(emb.slice(i * h * h * 2, (i + 1) * h * h * 2))).toEqual(Array.from(mapGrid(dihedral(k!), source.row(row), h, 2)));
      seen.add(k!);
    });
    expect(seen.size).toBeGreaterThan(1);
    [b.embedding, b.box, b.masks].forEach((t) => t.dispose());
  });
});

describe('decoder data', () => {
  it('caches chosen rows of a float16 file once as float32: same values, copies out, others read through', async () => {
    const [n, h, c, s] = [5, 4, 3, 8];
    const values = Float32Array.from({ length: n * h * h * c }, (_, i) => Math.sin(i) * 3);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'f32-cache-')), 'e.f16');
    const header = { key: 'k', encoderSha256: 'e', preprocess: null, n, height: h, width: h, channels: c, imageSize: s, files: [], labels: [], hasMasks: true };
    await writeEmbeddingFile(file, { header, embeddings: values, masks: new Float32Array(n * s * s).fill(1) });
    const store = EmbeddingFile.open(file, true)!;
    const cached = float32Source(store, [1, 3, 3]);
    for (const r of [0, 1, 3, 4]) {
      // the float16 rounding of each value, decoded by hand
      const want = Array.from(values.subarray(r * h * h * c, (r + 1) * h * h * c), (v) => fromHalf(toHalf(v)));
      expect(Array.from(cached.row(r)), `row ${r}`).toEqual(want);
      const out = new Float32Array(h * h * c);
      expect(cached.row(r, out)).toBe(out);
      expect(Array.from(out)).toEqual(want);
    }
    cached.row(1).fill(99);
    expect(cached.row(1)[0]).toBe(fromHalf(toHalf(values[h * h * c])));
    // the planner counts the float32 cache: 4 bytes a value
    expect(cachedBytes(header, 2)).toBe(2 * h * h * c * 4);
    expect(estimateMemory({ images: 2, embeddingBytes: 4, embedShape: [h, h, c], imageSize: s, params: 10, activationsPerImage: 10, baselineBytes: 0 }, 1, 'memory').embeddings).toBe(cachedBytes(header, 2));
  });

  it('adds seeded noise of the asked size, a different draw for each pair', () => {
    const [h, c, s] = [8, 64, 8];
    const map = Float32Array.from({ length: h * h * c }, (_, i) => (i % 2 ? 3 : -1)); // mean 1, sd 2
    const masks = new Float32Array(2 * s * s).fill(1);
    const source = { header: { n: 2, height: h, width: h, channels: c, imageSize: s } as never, masks, row: (): Float32Array => map.slice() };
    const set = decoderSet(source);
    const aug = { dihedral: false, jitterPx: 0, noise: 0.25 };
    const noise = (seed: number): Float32Array[] => {
      const b = makeDecoderBatch(set, [0, 0, 1], aug, new Rng(seed));
      const e = b.embedding.dataSync();
      [b.embedding, b.box, b.masks].forEach((t) => t.dispose());
      return [0, 1, 2].map((k) => Float32Array.from(map, (v, i) => e[k * map.length + i] - v));
    };
    const a = noise(1);
    for (const z of a) {
      const mean = z.reduce((x, y) => x + y, 0) / z.length;
      const sd = Math.sqrt(z.reduce((x, y) => x + (y - mean) ** 2, 0) / z.length);
      expect(Math.abs(mean)).toBeLessThan(0.03);
      expect(sd / 0.5).toBeGreaterThan(0.95); // 0.25 × the map's sd of 2
      expect(sd / 0.5).toBeLessThan(1.05);
    }
    const corr = (x: Float32Array, y: Float32Array): number => x.reduce((t, v, i) => t + v * y[i], 0) / Math.sqrt(x.reduce((t, v) => t + v * v, 0) * y.reduce((t, v) => t + v * v, 0));
    expect(Math.abs(corr(a[0], a[1]))).toBeLessThan(0.1);
    expect(Math.abs(corr(a[0], a[2]))).toBeLessThan(0.1);
    expect(noise(1).map((z) => Array.from(z))).toEqual(a.map((z) => Array.from(z)));
    expect(Array.from(noise(2)[0])).not.toEqual(Array.from(a[0]));
  });
});

describe('mask metrics', () => {
  it('IoU and Dice by hand', () => {
    const p = [1, 1, 0, 0, 1];
    const g = [1, 0, 0, 1, 1];
    // |P∩G| = 2, |P∪G| = 4, |P| + |G| = 6
    expect(iou(p, g)).toBe(0.5);
    expect(dice(p, g)).toBeCloseTo(4 / 6, 12);
    expect(iou([0, 0], [0, 0])).toBe(1);
  });
});
