import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCount, loadDataset, readLabels } from '../../data/index.ts';
import { synthesizeFederation } from '../../data/synth/federation.ts';
import { EmbeddingFile, writeEmbeddingFile } from '../../distill/embedding-store.ts';
import { embedDataset } from '../../distill/embeddings.ts';
import { decodeHalf, encodeHalf, fromHalf, toHalf } from '../../distill/float16.ts';
import { convEncoderOnnx } from './conv-encoder.ts';

/** The encoder's NHWC map of one S×S image, by hand: e[y,x,k] = b[k] + Σ w[k,dy,dx]·img[2y+dy, 2x+dx]. */
function reference(img: Float32Array, s: number, w: number[], b: number[]): Float32Array {
  const h = s / 2;
  const out = new Float32Array(h * h * 2);
  for (let y = 0; y < h; y++) for (let x = 0; x < h; x++) for (let k = 0; k < 2; k++) {
    let z = b[k];
    for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) z += w[k * 4 + dy * 2 + dx] * img[(2 * y + dy) * s + 2 * x + dx];
    out[(y * h + x) * 2 + k] = z;
  }
  return out;
}

describe('float16 codec', () => {
  it('encodes known binary16 bit patterns, rounding to nearest even', () => {
    const cases: [number, number][] = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff], [1e5, 0x7c00], [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], [2 ** -14, 0x0400], [0.1, 0x2e66], [1 / 3, 0x3555], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -26, 0x0000],
    ];
    for (const [v, bits] of cases) expect(toHalf(v), `toHalf(${v})`).toBe(bits);
    expect(toHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(Number.isNaN(fromHalf(0x7e00))).toBe(true);
  });

  it('decodes bit patterns to their values and round-trips within half a unit in the last place', () => {
    expect(fromHalf(0x3555)).toBe(0.333251953125);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
    expect(fromHalf(0xfbff)).toBe(-65504);
    const xs = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    const back = decodeHalf(encodeHalf(xs));
    xs.forEach((x, i) => expect(Math.abs(back[i] - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25)));
  });
});

describe('embedding file', () => {
  it('reads back the same maps and masks in memory and streamed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emb-file-'));
    const file = path.join(dir, 'e.f16');
    const n = 3;
    const embeddings = Float32Array.from({ length: n * 2 * 2 * 3 }, (_, i) => i / 8 - 1);
    const masks = Float32Array.from({ length: n * 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const header = { key: 'k', encoderSha256: 'e', preprocess: null, n, height: 2, width: 2, channels: 3, imageSize: 4, files: ['a', 'b', 'c'], labels: [0, 1, 1], hasMasks: true };
    await writeEmbeddingFile(file, { header, embeddings, masks });
    for (const stream of [false, true]) {
      const f = EmbeddingFile.open(file, stream) as EmbeddingFile;
      expect(f.streamed).toBe(stream);
      expect(Array.from(f.masks as Float32Array)).toEqual(Array.from(masks));
      for (let i = 0; i < n; i++) expect(Array.from(f.row(i))).toEqual(Array.from(embeddings.subarray(i * 12, (i + 1) * 12)));
    }
    writeFileSync(path.join(dir, 'bad.f16'), 'not an embedding file');
    expect(EmbeddingFile.open(path.join(dir, 'bad.f16'))).toBeUndefined();
  });
});

describe('embedDataset', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'emb-'));
  const w = [0.5, -0.25, 0.125, 1, -1, 0.75, 0.5, -0.5];
  const b = [0.1, -0.2];
  const encoder = path.join(root, 'enc.onnx');
  writeFileSync(encoder, convEncoderOnnx(w, b));
  const pre = { size: 16, normalize: 'unit' as const };
  const ready = synthesizeFederation({ out: path.join(root, 'fed'), sites: 1, imagesPerSite: 12, size: 16, seed: 3, largeFactor: 1, testFraction: 0.25 });
  const dir = path.join(root, 'fed', 'site-a', 'train');

  it('equals the encoder computed by hand on the preprocessed images, within float16 precision', async () => {
    await ready;
    const set = await loadDataset(dir, pre);
    const e = await embedDataset(encoder, dir, pre, { batchSize: 4 });
    expect(e.computed).toBe(true);
    const h = e.store.header;
    expect([h.n, h.height, h.width, h.channels, h.imageSize]).toEqual([set.n, 8, 8, 2, 16]);
    expect(Array.from(e.store.masks as Float32Array)).toEqual(Array.from(set.masks as Float32Array, (v) => (v !== 0 ? 1 : 0)));
    for (let i = 0; i < set.n; i++) {
      const want = reference(set.x.subarray(i * 256, (i + 1) * 256), 16, w, b);
      const got = e.store.row(i);
      want.forEach((v, j) => expect(Math.abs(got[j] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-6));
    }
  });

  it('is found again without decoding, and after the images are removed', async () => {
    await ready;
    const first = (await embedDataset(encoder, dir, pre)).store;
    const before = decodeCount();
    const again = await embedDataset(encoder, dir, pre, { stream: true });
    expect(again.computed).toBe(false);
    expect(again.store.streamed).toBe(true);
    for (const r of readLabels(dir)) rmSync(r.file);
    const gone = await embedDataset(encoder, dir, pre);
    expect(gone.computed).toBe(false);
    expect(decodeCount()).toBe(before);
    for (let i = 0; i < first.header.n; i++) expect(Array.from(gone.store.row(i))).toEqual(Array.from(first.row(i)));
  });

  it('is keyed by the encoder and the preprocessing', async () => {
    await ready;
    const other = path.join(root, 'enc2.onnx');
    writeFileSync(other, convEncoderOnnx(w.map((v) => -v), b));
    const dir2 = path.join(root, 'fed', 'site-a', 'test');
    const a = await embedDataset(encoder, dir2, pre);
    const c = await embedDataset(other, dir2, pre);
    const d = await embedDataset(encoder, dir2, { ...pre, normalize: 'zscore' });
    expect([a.computed, c.computed, d.computed]).toEqual([true, true, true]);
    expect(new Set([a.store.header.key, c.store.header.key, d.store.header.key]).size).toBe(3);
    expect((await embedDataset(encoder, dir2, pre)).computed).toBe(false);
    expect(readdirSync(path.join(dir2, '.fedkd-cache')).filter((f) => f.endsWith('.f16'))).toHaveLength(3);
  });
});
