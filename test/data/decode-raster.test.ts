import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../data/decode.ts';
import { cleanup, dcmtk, maxAbsDiff, tempDir, testPattern } from './dcmtk.ts';
import { writeBmp, writePng, writeTiff } from './raster-writers.ts';

// PNG, TIFF and BMP written by hand-rolled encoders (test/data/raster-writers.ts) decode to
// exactly the pixels written; JPEG is checked against its source and against dcmtk's wrapping.
const W = 37;
const H = 23;
const N = W * H;
let dir: string;
const g8 = testPattern(N, W, 0, 255, 41);
const g16 = testPattern(N, W, 0, 65535, 42);
const rgb = testPattern(N * 3, W * 3, 0, 255, 43);

beforeAll(() => {
  dir = tempDir('raster');
});
afterAll(() => cleanup(dir));

function put(name: string, bytes: Uint8Array): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('lossless raster formats', () => {
  const cases: [string, () => Uint8Array, number[], 1 | 3, number][] = [
    ['png 8-bit grey', () => writePng(W, H, 1, 8, g8), g8, 1, 8],
    ['png 16-bit grey', () => writePng(W, H, 1, 16, g16), g16, 1, 16],
    ['png 8-bit RGB', () => writePng(W, H, 3, 8, rgb), rgb, 3, 8],
    ['tiff 8-bit grey', () => writeTiff(W, H, 8, g8), g8, 1, 8],
    ['tiff 16-bit grey', () => writeTiff(W, H, 16, g16), g16, 1, 16],
    ['bmp 8-bit grey palette', () => writeBmp(W, H, 1, g8), g8, 1, 8],
    ['bmp 24-bit RGB', () => writeBmp(W, H, 3, rgb), rgb, 3, 8],
  ];
  for (const [label, make, expected, channels, bits] of cases) {
    it(label, async () => {
      const img = await decodeImageFile(put(label.replace(/\W+/g, '-'), make()));
      expect([img.rows, img.columns, img.channels, img.bitsStored, img.format]).toEqual([H, W, channels, bits, label.split(' ')[0]]);
      expect(maxAbsDiff(img.pixels[0], expected)).toBe(0);
    });
  }

  it('a BMP wrapped into DICOM by img2dcm decodes to the same pixels', async () => {
    const bmp = put('c.bmp', writeBmp(W, H, 3, rgb));
    const dcm = path.join(dir, 'c.dcm');
    dcmtk('img2dcm', ['-i', 'BMP', bmp, dcm]);
    const img = await decodeImageFile(dcm);
    expect(maxAbsDiff(img.pixels[0], rgb)).toBe(0);
  });
});

describe('alpha and 16-bit colour', () => {
  it('a grey+alpha PNG stays grey (alpha dropped); a 16-bit RGB PNG keeps 16 bits', async () => {
    const ga = Array.from({ length: N * 2 }, (_, i) => (i % 2 ? 255 : g8[i >> 1]));
    const grey = await decodeImageFile(put('ga.png', writePng(W, H, 2, 8, ga)));
    expect(grey.channels).toBe(1);
    expect(maxAbsDiff(grey.pixels[0], g8)).toBe(0);
    const rgb16 = rgb.map((v, i) => v * 257 - (i % 7));
    const img = await decodeImageFile(put('rgb16.png', writePng(W, H, 3, 16, rgb16)));
    expect([img.channels, img.bitsStored]).toEqual([3, 16]);
    expect(maxAbsDiff(img.pixels[0], rgb16)).toBe(0);
  });
});

describe('JPEG', () => {
  it('decodes near its source, and like the same bitstream wrapped into DICOM by img2dcm', async () => {
    const jpg = put('g.jpg', await sharp(Uint8Array.from(g8), { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 95 }).toBuffer());
    const img = await decodeImageFile(jpg);
    expect(img.format).toBe('jpeg');
    const mean = img.pixels[0].reduce((s, v, i) => s + Math.abs(v - g8[i]), 0) / N;
    expect(mean).toBeLessThan(4);
    const dcm = path.join(dir, 'g.dcm');
    dcmtk('img2dcm', [jpg, dcm]);
    const wrapped = await decodeImageFile(dcm);
    expect(wrapped.transferSyntax).toBe('1.2.840.10008.1.2.4.50');
    expect(maxAbsDiff(wrapped.pixels[0], img.pixels[0])).toBeLessThanOrEqual(1);
  });
});
