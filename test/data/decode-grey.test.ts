import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../data/decode.ts';
import { cleanup, dcmtk, dcmtkPixels, maxAbsDiff, sampleBytes, tempDir, testPattern, writeDicom } from './dcmtk.ts';

// Grey DICOM through every transfer syntax dcmtk writes, checked against the source pixels
// (lossless) or dcmtk's own decoding (lossy JPEG).
const ROWS = 48;
const COLS = 64;
const N = ROWS * COLS;
let dir: string;
let src12: string;
const values12 = testPattern(N, COLS, 0, 4095);

beforeAll(() => {
  dir = tempDir('grey');
  src12 = writeDicom(dir, 'g12', { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12 }, sampleBytes(values12, 16));
});
afterAll(() => cleanup(dir));

function transcode(tool: string, args: string[], name: string, from = src12): string {
  const out = path.join(dir, `${name}.dcm`);
  dcmtk(tool, [...args, from, out]);
  return out;
}

describe('lossless transfer syntaxes give back the source pixels exactly', () => {
  const cases: [string, string, string[], string][] = [
    ['explicit VR little endian', 'dcmconv', ['+te'], '1.2.840.10008.1.2.1'],
    ['implicit VR little endian', 'dcmconv', ['+ti'], '1.2.840.10008.1.2'],
    ['explicit VR big endian', 'dcmconv', ['+tb'], '1.2.840.10008.1.2.2'],
    ['bare data set, implicit VR (no preamble or meta header)', 'dcmconv', ['-F', '+ti'], '1.2.840.10008.1.2'],
    ['bare data set, explicit VR', 'dcmconv', ['-F', '+te'], '1.2.840.10008.1.2.1'],
    ['deflated', 'dcmconv', ['+td'], '1.2.840.10008.1.2.1.99'],
    ['RLE lossless', 'dcmcrle', [], '1.2.840.10008.1.2.5'],
    ['JPEG lossless SV1', 'dcmcjpeg', ['+e1'], '1.2.840.10008.1.2.4.70'],
    ['JPEG lossless process 14, selection value 6', 'dcmcjpeg', ['+el', '+sv', '6'], '1.2.840.10008.1.2.4.57'],
    ['JPEG-LS lossless', 'dcmcjpls', ['+el'], '1.2.840.10008.1.2.4.80'],
  ];
  for (const [label, tool, args, uid] of cases) {
    it(label, async () => {
      const file = transcode(tool, args, label.replace(/\W+/g, '-'));
      const img = await decodeImageFile(file);
      expect(img.transferSyntax).toBe(uid);
      expect([img.rows, img.columns, img.frames, img.channels]).toEqual([ROWS, COLS, 1, 1]);
      expect(maxAbsDiff(img.pixels[0], values12)).toBe(0);
    });
  }
});

describe('near-lossless and lossy syntaxes', () => {
  it('JPEG-LS near-lossless stays within NEAR=2 of the source', async () => {
    const img = await decodeImageFile(transcode('dcmcjpls', ['+en'], 'jls-near'));
    expect(img.transferSyntax).toBe('1.2.840.10008.1.2.4.81');
    const d = maxAbsDiff(img.pixels[0], values12);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(2);
  });

  const g8 = testPattern(N, COLS, 0, 255, 7);
  for (const [label, flag, uid] of [['baseline', '+eb', '1.2.840.10008.1.2.4.50'], ['extended (8-bit)', '+ee', '1.2.840.10008.1.2.4.51']]) {
    it(`JPEG ${label} matches dcmtk's own decoding within 1 grey level`, async () => {
      const src8 = writeDicom(dir, `g8${flag}`, { rows: ROWS, columns: COLS, bitsAllocated: 8, bitsStored: 8 }, sampleBytes(g8, 8));
      const file = transcode('dcmcjpeg', [flag, '+q', '85'], `jpeg${flag}`, src8);
      const img = await decodeImageFile(file);
      expect(img.transferSyntax).toBe(uid);
      const ref = dcmtkPixels(file, 'dcmdjpeg');
      expect(maxAbsDiff(img.pixels[0], ref)).toBeLessThanOrEqual(1);
      expect(maxAbsDiff(img.pixels[0], g8)).toBeGreaterThan(0);
    });
  }

  it('8-bit pixels in a big-endian file (dcmconv +tb) read as written', async () => {
    const src8 = writeDicom(dir, 'g8be-src', { rows: ROWS, columns: COLS, bitsAllocated: 8, bitsStored: 8 }, sampleBytes(g8, 8));
    const img = await decodeImageFile(transcode('dcmconv', ['+tb'], 'g8be', src8));
    expect(img.transferSyntax).toBe('1.2.840.10008.1.2.2');
    expect(maxAbsDiff(img.pixels[0], g8)).toBe(0);
  });

  it('12-bit JPEG extended is refused with a reason (no 12-bit codec available)', async () => {
    const file = transcode('dcmcjpeg', ['+ee'], 'jpeg12');
    await expect(decodeImageFile(file)).rejects.toThrow(/jpeg12\.dcm: 12-bit JPEG extended .* not supported/);
  });
});

describe('pixel cases', () => {
  it('signed pixels with BitsStored 12 < BitsAllocated 16 are masked and sign-extended', async () => {
    const signed = testPattern(N, COLS, -2048, 2047, 3);
    // junk above the high bit (as an overlay would leave) must be ignored
    const stored = signed.map((v, i) => (v & 0x0fff) | ((i % 5) << 12));
    const file = writeDicom(dir, 's12', { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12, signed: true }, sampleBytes(stored, 16));
    const img = await decodeImageFile(file);
    expect(img.signed).toBe(true);
    expect(maxAbsDiff(img.pixels[0], signed)).toBe(0);
  });

  it('signed pixels survive RLE and JPEG-LS', async () => {
    const signed = testPattern(N, COLS, -2048, 2047, 4);
    const file = writeDicom(dir, 's12b', { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12, signed: true }, sampleBytes(signed, 16));
    for (const [tool, name] of [['dcmcrle', 's-rle'], ['dcmcjpls', 's-jls']]) {
      const img = await decodeImageFile(transcode(tool, [], name, file));
      expect(maxAbsDiff(img.pixels[0], signed)).toBe(0);
    }
  });

  it('applies the modality LUT (rescale slope and intercept)', async () => {
    const file = writeDicom(dir, 'ct', {
      rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12,
      extra: ['(0028,1052) DS [-1024]', '(0028,1053) DS [0.5]', '(0028,1050) DS [40\\-600]', '(0028,1051) DS [400\\1500]'],
    }, sampleBytes(values12, 16));
    const img = await decodeImageFile(file);
    expect(maxAbsDiff(img.pixels[0], values12.map((v) => v * 0.5 - 1024))).toBe(0);
    expect(img.windows).toEqual([{ center: 40, width: 400 }, { center: -600, width: 1500 }]);
  });

  it('MONOCHROME1 is reported as stored and flagged for inversion', async () => {
    const file = writeDicom(dir, 'm1', { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12, photometric: 'MONOCHROME1' }, sampleBytes(values12, 16));
    const img = await decodeImageFile(file);
    expect(img.photometric).toBe('MONOCHROME1');
    expect(img.invert).toBe(true);
    expect(maxAbsDiff(img.pixels[0], values12)).toBe(0);
  });

  it('multi-frame: native, RLE and JPEG-LS give every frame back', async () => {
    const frames = [1, 2, 3].map((s) => testPattern(N, COLS, 0, 4095, 10 + s));
    const file = writeDicom(dir, 'mf', { rows: ROWS, columns: COLS, bitsAllocated: 16, bitsStored: 12, frames: 3 }, sampleBytes(frames.flat(), 16));
    for (const f of [file, transcode('dcmcrle', [], 'mf-rle', file), transcode('dcmcjpls', [], 'mf-jls', file), transcode('dcmcjpeg', ['+e1'], 'mf-jpl', file)]) {
      const img = await decodeImageFile(f);
      expect(img.frames).toBe(3);
      img.pixels.forEach((p, i) => expect(maxAbsDiff(p, frames[i])).toBe(0));
    }
  });
});
