import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../data/decode.ts';
import { cleanup, dcmtk, dcmtkPixels, maxAbsDiff, sampleBytes, tempDir, testPattern, writeDicom } from './dcmtk.ts';

// Colour DICOM (RGB, planar, YBR_FULL, YBR_FULL_422, palette) and JPEG 2000, checked against
// the source pixels or dcmtk's own rendering (dcm2pnm; dcmtk's integer YCbCr maths differs by up to 2).
const ROWS = 32;
const COLS = 40;
const N = ROWS * COLS;
let dir: string;
const r = testPattern(N, COLS, 0, 255, 21);
const g = testPattern(N, COLS, 0, 255, 22);
const b = testPattern(N, COLS, 0, 255, 23);
const rgb = Array.from({ length: N * 3 }, (_, i) => [r, g, b][i % 3][Math.floor(i / 3)]);
const rgbSpec = { rows: ROWS, columns: COLS, bitsAllocated: 8, bitsStored: 8, samplesPerPixel: 3, photometric: 'RGB' };
let rgbFile: string;

beforeAll(() => {
  dir = tempDir('colour');
  rgbFile = writeDicom(dir, 'rgb', rgbSpec, sampleBytes(rgb, 8));
});
afterAll(() => cleanup(dir));

/** dcm2pnm's rendering of a colour file: the PPM's RGB bytes. */
function dcm2pnmRgb(file: string): Uint8Array {
  const out = path.join(dir, `${path.basename(file)}.ppm`);
  dcmtk('dcm2pnm', ['+op', file, out]);
  const ppm = readFileSync(out);
  let lines = 0;
  let i = 0;
  while (lines < 3) if (ppm[i++] === 0x0a) lines++;
  return new Uint8Array(ppm.subarray(i));
}

function transcode(tool: string, args: string[], name: string, from = rgbFile): string {
  const out = path.join(dir, `${name}.dcm`);
  dcmtk(tool, [...args, from, out]);
  return out;
}

describe('RGB', () => {
  it('native, pixel-interleaved', async () => {
    const img = await decodeImageFile(rgbFile);
    expect(img.channels).toBe(3);
    expect(maxAbsDiff(img.pixels[0], rgb)).toBe(0);
  });

  it('native, planar configuration 1', async () => {
    const planar = [...r, ...g, ...b];
    const img = await decodeImageFile(writeDicom(dir, 'planar', { ...rgbSpec, planar: true }, sampleBytes(planar, 8)));
    expect(maxAbsDiff(img.pixels[0], rgb)).toBe(0);
  });

  for (const [label, tool, args] of [
    ['big endian', 'dcmconv', ['+tb']],
    ['deflated', 'dcmconv', ['+td']],
    ['RLE', 'dcmcrle', []],
    ['JPEG-LS line-interleaved', 'dcmcjpls', ['+il']],
    ['JPEG-LS sample-interleaved', 'dcmcjpls', ['+is']],
    ['JPEG-LS not interleaved', 'dcmcjpls', ['+in']],
    ['JPEG lossless SV1', 'dcmcjpeg', ['+e1']],
  ] as [string, string, string[]][]) {
    it(`${label} is lossless`, async () => {
      const img = await decodeImageFile(transcode(tool, args, label.replace(/\W+/g, '-')));
      expect(maxAbsDiff(img.pixels[0], rgb)).toBe(0);
    });
  }

  it('JPEG baseline (stored as YBR_FULL_422) decodes to RGB like dcmtk', async () => {
    const file = transcode('dcmcjpeg', ['+eb'], 'rgb-jpeg');
    const img = await decodeImageFile(file);
    expect(img.photometric).toBe('YBR_FULL_422');
    expect(maxAbsDiff(img.pixels[0], dcmtkPixels(file, 'dcmdjpeg'))).toBeLessThanOrEqual(2);
  });
});

describe('YBR and palette', () => {
  const ycc = (i: number): [number, number, number] => {
    const [R, G, B] = [r[i], g[i], b[i]];
    const c = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
    return [c(0.299 * R + 0.587 * G + 0.114 * B), c(-0.168736 * R - 0.331264 * G + 0.5 * B + 128), c(0.5 * R - 0.418688 * G - 0.081312 * B + 128)];
  };

  it('YBR_FULL native converts to RGB as dcmtk does', async () => {
    const data = Array.from({ length: N }, (_, i) => ycc(i)).flat();
    const file = writeDicom(dir, 'ybr', { ...rgbSpec, photometric: 'YBR_FULL' }, sampleBytes(data, 8));
    const img = await decodeImageFile(file);
    expect(img.photometric).toBe('YBR_FULL');
    expect(maxAbsDiff(img.pixels[0], dcm2pnmRgb(file))).toBeLessThanOrEqual(2);
    expect(maxAbsDiff(img.pixels[0], rgb)).toBeLessThanOrEqual(3);
  });

  it('YBR_FULL_422 native (Y1 Y2 Cb Cr per pixel pair) converts to RGB as dcmtk does', async () => {
    const data: number[] = [];
    for (let i = 0; i < N; i += 2) {
      const [y1, cb1, cr1] = ycc(i);
      const [y2, cb2, cr2] = ycc(i + 1);
      data.push(y1, y2, Math.round((cb1 + cb2) / 2), Math.round((cr1 + cr2) / 2));
    }
    const file = writeDicom(dir, 'ybr422', { ...rgbSpec, photometric: 'YBR_FULL_422' }, sampleBytes(data, 8));
    const img = await decodeImageFile(file);
    expect(img.pixels[0].length).toBe(N * 3);
    expect(maxAbsDiff(img.pixels[0], dcm2pnmRgb(file))).toBeLessThanOrEqual(2);
  });

  it('PALETTE COLOR maps indices through the 16-bit LUTs', async () => {
    const idx = testPattern(N, COLS, 0, 99, 5);
    const lut = (k: number): number[] => Array.from({ length: 100 }, (_, i) => ((i * (37 + k * 20)) % 256) * 257);
    const hex = (v: number[]): string => v.map((x) => x.toString(16).padStart(4, '0')).join('\\');
    const file = writeDicom(dir, 'palette', {
      rows: ROWS, columns: COLS, bitsAllocated: 8, bitsStored: 8, photometric: 'PALETTE COLOR',
      extra: [0, 1, 2].flatMap((k) => [`(0028,110${k + 1}) US 100\\0\\16`, `(0028,120${k + 1}) OW ${hex(lut(k))}`]),
    }, sampleBytes(idx, 8));
    const img = await decodeImageFile(file);
    expect(img.samplesPerPixel).toBe(1);
    expect(img.channels).toBe(3);
    const expected = idx.flatMap((i) => [0, 1, 2].map((k) => lut(k)[i] >> 8));
    expect(maxAbsDiff(img.pixels[0], expected)).toBe(0);
    expect(maxAbsDiff(img.pixels[0], dcm2pnmRgb(file))).toBeLessThanOrEqual(1);
  });
});

// dcmtk 3.6.7 has no JPEG 2000 encoder (no dcmcjp2k): the codestreams come from OpenJPEG's
// encoder in @cornerstonejs/codec-openjpeg, wrapped into DICOM by dump2dcm, and are checked
// against the source pixels.
describe('JPEG 2000 (encoded by OpenJPEG, wrapped by dump2dcm)', () => {
  interface Encoder {
    getDecodedBuffer(info: object): Uint8Array;
    setQuality(lossless: boolean, quality: number): void;
    setCompressionRatio(layer: number, ratio: number): void;
    encode(): void;
    getEncodedBuffer(): Uint8Array;
    delete(): void;
  }
  async function j2k(pixels: Uint8Array, components: number, bits: number, lossless: boolean, colourTransform: boolean): Promise<Uint8Array> {
    const factory = createRequire(import.meta.url)('@cornerstonejs/codec-openjpeg/wasmjs') as () => Promise<{ J2KEncoder: new () => Encoder }>;
    const enc = new (await factory()).J2KEncoder();
    enc.getDecodedBuffer({ width: COLS, height: ROWS, bitsPerSample: bits, componentCount: components, isSigned: false, isUsingColorTransform: colourTransform }).set(pixels);
    if (!lossless) {
      enc.setQuality(false, 0);
      enc.setCompressionRatio(0, 8);
    }
    enc.encode();
    const out = enc.getEncodedBuffer().slice();
    enc.delete();
    return out;
  }

  const grey = testPattern(N, COLS, 0, 4095, 31);
  const greySpec = { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12 };

  it('lossless 12-bit grey is exact', async () => {
    const cs = await j2k(sampleBytes(grey, 16), 1, 12, true, false);
    const img = await decodeImageFile(writeDicom(dir, 'j2k-ll', { ...greySpec, syntax: 'JPEG2000LosslessOnly' }, null, [cs]));
    expect(img.transferSyntax).toBe('1.2.840.10008.1.2.4.90');
    expect(maxAbsDiff(img.pixels[0], grey)).toBe(0);
  });

  it('lossy 12-bit grey is close but not exact', async () => {
    const cs = await j2k(sampleBytes(grey, 16), 1, 12, false, false);
    const img = await decodeImageFile(writeDicom(dir, 'j2k-lossy', { ...greySpec, syntax: 'JPEG2000' }, null, [cs]));
    expect(img.transferSyntax).toBe('1.2.840.10008.1.2.4.91');
    const err = img.pixels[0].map((v, i) => (v - grey[i]) ** 2);
    const rmse = Math.sqrt(err.reduce((s, v) => s + v, 0) / N);
    expect(rmse).toBeGreaterThan(0);
    expect(rmse).toBeLessThan(4095 * 0.05);
  });

  it('YBR_RCT (reversible colour transform) decodes to the RGB source exactly', async () => {
    const cs = await j2k(sampleBytes(rgb, 8), 3, 8, true, true);
    const img = await decodeImageFile(writeDicom(dir, 'j2k-rct', { ...rgbSpec, photometric: 'YBR_RCT', syntax: 'JPEG2000LosslessOnly' }, null, [cs]));
    expect(img.photometric).toBe('YBR_RCT');
    expect(maxAbsDiff(img.pixels[0], rgb)).toBe(0);
  });

  it('YBR_ICT (irreversible colour transform, lossy) decodes close to the RGB source', async () => {
    const cs = await j2k(sampleBytes(rgb, 8), 3, 8, false, true);
    const img = await decodeImageFile(writeDicom(dir, 'j2k-ict', { ...rgbSpec, photometric: 'YBR_ICT', syntax: 'JPEG2000' }, null, [cs]));
    expect(img.channels).toBe(3);
    const rmse = Math.sqrt(img.pixels[0].reduce((s, v, i) => s + (v - rgb[i]) ** 2, 0) / img.pixels[0].length);
    expect(rmse).toBeGreaterThan(0);
    expect(rmse).toBeLessThan(255 * 0.08);
  });

  it('multi-frame with one fragment per frame', async () => {
    const f2 = testPattern(N, COLS, 0, 4095, 32);
    const frags = [await j2k(sampleBytes(grey, 16), 1, 12, true, false), await j2k(sampleBytes(f2, 16), 1, 12, true, false)];
    const img = await decodeImageFile(writeDicom(dir, 'j2k-mf', { ...greySpec, frames: 2, syntax: 'JPEG2000LosslessOnly' }, null, frags));
    expect(maxAbsDiff(img.pixels[0], grey)).toBe(0);
    expect(maxAbsDiff(img.pixels[1], f2)).toBe(0);
  });
});
