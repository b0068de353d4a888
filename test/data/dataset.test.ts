import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../core/errors.ts';
import { decodeCount } from '../../data/decode.ts';
import { loadDataset } from '../../data/dataset/load.ts';
import { readLabels } from '../../data/dataset/labels.ts';
import { cleanup, sampleBytes, tempDir, testPattern, writeDicom } from './dcmtk.ts';
import { writePng } from './raster-writers.ts';

// A dataset folder of DICOMs and PNGs with masks; the cache means a second load decodes nothing.
let dir: string;
const SIZE = 16;

beforeAll(() => {
  dir = tempDir('dataset');
  const lines = ['file,label,mask'];
  for (let i = 0; i < 6; i++) {
    const values = testPattern(32 * 32, 32, 0, 4095, 100 + i);
    writeDicom(dir, `img${i}`, { rows: 32, columns: 32, bitsAllocated: 16, bitsStored: 12, extra: ['(0028,1050) DS [2048]', '(0028,1051) DS [4096]'] }, sampleBytes(values, 16));
    const mask = Array.from({ length: 32 * 32 }, (_, k) => (k % 32 < 8 + i ? 255 : 0));
    writeFileSync(path.join(dir, `mask${i}.png`), writePng(32, 32, 1, 8, mask));
    lines.push(`img${i}.dcm,${i % 2},mask${i}.png`);
  }
  // a constant PNG whose preprocessed tensor we know: 200/255 everywhere (full 8-bit range window)
  writeFileSync(path.join(dir, 'flat.png'), writePng(32, 32, 1, 8, new Array(32 * 32).fill(200)));
  writeFileSync(path.join(dir, 'empty-mask.png'), writePng(32, 32, 1, 8, new Array(32 * 32).fill(0)));
  lines.push('flat.png,1,empty-mask.png');
  writeFileSync(path.join(dir, 'labels.csv'), `${lines.join('\n')}\n`);
});
afterAll(() => cleanup(dir));

describe('labels.csv validation names the line', () => {
  const cases: [string, string, RegExp][] = [
    ['bad header', 'name,label\nimg0.dcm,1\n', /line 1: header must be/],
    ['label not an integer', 'file,label\nimg0.dcm,1\nimg1.dcm,yes\n', /line 3: label 'yes'/],
    ['missing file', 'file,label\nimg0.dcm,1\n\nghost.dcm,0\n', /line 4: file ghost\.dcm does not exist/],
    ['duplicate', 'file,label\nimg0.dcm,1\nimg0.dcm,0\n', /line 3: img0\.dcm is already listed on line 2/],
    ['outside the folder', 'file,label\n../x.dcm,1\n', /line 2: file \.\.\/x\.dcm lies outside/],
    ['too many fields', 'file,label\nimg0.dcm,1,mask0.png\n', /line 2: expected 2 fields/],
    ['missing mask', 'file,label,mask\nimg0.dcm,1,nomask.png\n', /line 2: mask nomask\.png does not exist/],
  ];
  for (const [label, csv, re] of cases) {
    it(label, () => {
      const d = tempDir('labels');
      try {
        for (const f of ['img0.dcm', 'img1.dcm', 'mask0.png']) writeFileSync(path.join(d, f), 'x');
        writeFileSync(path.join(d, 'labels.csv'), csv);
        expect(() => readLabels(d)).toThrow(re);
      } finally {
        cleanup(d);
      }
    });
  }
});

describe('loadDataset', () => {
  const cfg = { size: SIZE };

  it('loads images, labels and masks, and a second load decodes nothing', async () => {
    const before = decodeCount();
    const a = await loadDataset(dir, cfg, { workers: 0 });
    expect(decodeCount() - before).toBe(14);
    expect(a.decoded).toBe(14);
    expect([a.n, a.size, a.channels, a.x.length]).toEqual([7, SIZE, 1, 7 * SIZE * SIZE]);
    expect(Array.from(a.labels)).toEqual([0, 1, 0, 1, 0, 1, 1]);
    expect(a.files[6]).toBe('flat.png');
    const flat = a.x.subarray(6 * SIZE * SIZE, 7 * SIZE * SIZE);
    expect(Array.from(flat).every((v) => Math.abs(v - 200 / 255) < 1e-6)).toBe(true);
    // mask i: columns < 8 + i of 32 are foreground → columns < (8 + i) / 2 of 16
    const m = a.masks as Float32Array;
    for (let i = 0; i < 6; i++) for (let x = 0; x < SIZE; x++) expect(m[i * SIZE * SIZE + 3 * SIZE + x]).toBe(x + 0.5 < (8 + i) / 2 ? 1 : 0);

    const mid = decodeCount();
    const b = await loadDataset(dir, cfg, { workers: 0 });
    expect(decodeCount() - mid).toBe(0);
    expect(b.decoded).toBe(0);
    expect(Array.from(b.x)).toEqual(Array.from(a.x));
    expect(Array.from(b.masks as Float32Array)).toEqual(Array.from(m));
    expect(b.hash).toBe(a.hash);
  });

  it('a changed file is decoded again, and only it', async () => {
    await loadDataset(dir, cfg, { workers: 0 });
    writeFileSync(path.join(dir, 'flat.png'), writePng(32, 32, 1, 8, new Array(32 * 32).fill(100)));
    utimesSync(path.join(dir, 'flat.png'), new Date(), new Date(Date.now() + 5000));
    const c = await loadDataset(dir, cfg, { workers: 0 });
    expect(c.decoded).toBe(2);
    expect(c.x[6 * SIZE * SIZE]).toBeCloseTo(100 / 255, 6);
  });

  it('another preprocessing config has its own cache entries and hash', async () => {
    const a = await loadDataset(dir, cfg, { workers: 0 });
    const z = await loadDataset(dir, { size: SIZE, normalize: 'zscore' }, { workers: 0 });
    expect(z.decoded).toBe(14);
    expect(z.hash).not.toBe(a.hash);
  });

  it('a dataset folder where the cache cannot be written still loads (without a cache)', async () => {
    const d = tempDir('nocache');
    try {
      writeFileSync(path.join(d, 'a.png'), writePng(8, 8, 1, 8, new Array(64).fill(51)));
      writeFileSync(path.join(d, 'labels.csv'), 'file,label\na.png,0\n');
      writeFileSync(path.join(d, '.fedkd-cache'), 'a file where the cache folder should be');
      for (let k = 0; k < 2; k++) {
        const r = await loadDataset(d, { size: 4 }, { workers: 0 });
        expect(r.decoded).toBe(1);
        expect(r.x[0]).toBeCloseTo(0.2, 6);
      }
    } finally {
      cleanup(d);
    }
  });

  it('a bad image fails the load with a UserError naming it, from a worker thread too', async () => {
    const d = tempDir('badset');
    try {
      writeFileSync(path.join(d, 'a.png'), writePng(8, 8, 1, 8, new Array(64).fill(51)));
      writeFileSync(path.join(d, 'b.dcm'), 'not an image, just text '.repeat(10));
      writeFileSync(path.join(d, 'labels.csv'), 'file,label\na.png,0\nb.dcm,1\n');
      for (const workers of [0, 2]) {
        const err = await loadDataset(d, { size: 4 }, { workers }).then(() => null, (e: unknown) => e);
        expect(isUserError(err)).toBe(true);
        expect((err as Error).message).toMatch(/b\.dcm: not DICOM/);
      }
    } finally {
      cleanup(d);
    }
  });

  it('worker threads give the same tensors as this thread', async () => {
    const c3 = { size: SIZE, channels: 3 as const, window: 'auto' as const };
    const inThread = await loadDataset(dir, c3, { workers: 0, noCache: true });
    const pooled = await loadDataset(dir, c3, { workers: 2 });
    expect(pooled.decoded).toBe(14);
    expect(Array.from(pooled.x)).toEqual(Array.from(inThread.x));
  });
});
