import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readServingPreprocess } from '../../cli/commands/serve.ts';
import { toRaster } from '../../cli/serve/prepare.ts';
import { decodeImageBytes } from '../../data/decode.ts';
import { resizeBilinear, toDisplay, toModelInput } from '../../runtime/input.ts';
import { encodeGreyPng } from '../../runtime/png.ts';
import { writePng } from '../data/raster-writers.ts';

const ROW = [0, 85, 170, 255];
const UNIT_ROW = [0, 1 / 3, 2 / 3, 1];

describe('the runtime stand-in preprocessing', () => {
  it('resizes bilinearly at pixel centres (identity at equal size)', () => {
    const src = Float32Array.from([0, 10, 20, 30]);
    expect(Array.from(resizeBilinear(src, 2, 2, 2, 2))).toEqual([0, 10, 20, 30]);
    // 2×2 → 4×4: output centres at source −0.25, 0.25, 0.75, 1.25 → clamped, then linear
    expect(Array.from(resizeBilinear(src, 2, 2, 4, 4)).slice(0, 4)).toEqual([0, 2.5, 7.5, 10]);
  });

  it('windows to [0, 1], inverts MONOCHROME1, and repeats grey into 3 channels', () => {
    const img = { width: 2, height: 2, channels: 1 as const, pixels: Float32Array.from([100, 200, 300, 400]), window: { center: 250, width: 300 } };
    expect(Array.from(toModelInput(img, [1, 2, 2]))).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
    expect(Array.from(toModelInput({ ...img, invert: true }, [1, 2, 2]))).toEqual([1, 2 / 3, 1 / 3, 0].map(Math.fround));
    const rgb = toModelInput(img, [3, 2, 2]);
    expect(Array.from(rgb.subarray(8))).toEqual(Array.from(rgb.subarray(0, 4)));
  });

  it('quantises the display preview to 16 bits over its range', () => {
    const d = toDisplay({ width: 2, height: 1, channels: 1, pixels: Float32Array.from([-1000, 1000]) });
    expect(d).toMatchObject({ width: 2, height: 1, min: -1000, max: 1000 });
    const b = Buffer.from(d.pixels, 'base64');
    expect([b.readUInt16LE(0), b.readUInt16LE(2)]).toEqual([0, 65535]);
  });

  it('encodes a grey PNG that data/ decodes back to the same bytes', async () => {
    const px = Uint8Array.from({ length: 15 }, (_, i) => i * 17);
    const img = await decodeImageBytes(await encodeGreyPng(5, 3, px), 'mask.png');
    expect([img.columns, img.rows, img.channels]).toEqual([5, 3, 1]);
    expect(Array.from(img.pixels[0])).toEqual(Array.from(px));
  });
});

describe("serve's wiring of data/'s preprocessing", () => {
  it("gives data/'s windowed tensor in CHW order, 1 or 3 channels", async () => {
    const img = await decodeImageBytes(writePng(4, 4, 1, 8, [...ROW, ...ROW, ...ROW, ...ROW]), 'x.png');
    const unit = [...UNIT_ROW, ...UNIT_ROW, ...UNIT_ROW, ...UNIT_ROW];
    const grey = toRaster(img).toInput!([1, 4, 4]);
    grey.forEach((v, i) => expect(v).toBeCloseTo(unit[i], 6));
    const rgb = toRaster(img).toInput!([3, 4, 4]);
    expect(rgb).toHaveLength(48);
    for (let c = 0; c < 3; c++) rgb.subarray(16 * c, 16 * (c + 1)).forEach((v, i) => expect(v).toBeCloseTo(unit[i], 6));
  });

  it("applies the repository's preprocess.json (z-score here)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-pre-'));
    try {
      writeFileSync(path.join(dir, 'preprocess.json'), JSON.stringify({ normalize: 'zscore' }));
      const pre = readServingPreprocess(dir);
      const img = await decodeImageBytes(writePng(4, 4, 1, 8, [...ROW, ...ROW, ...ROW, ...ROW]), 'x.png');
      // z-score of [0, 1/3, 2/3, 1]: mean 1/2, population sd √(5/36)
      const sd = Math.sqrt(5 / 36);
      const x = toRaster(img, pre).toInput!([1, 4, 4]);
      x.forEach((v, i) => expect(v).toBeCloseTo((UNIT_ROW[i % 4] - 0.5) / sd, 4));
      writeFileSync(path.join(dir, 'preprocess.json'), JSON.stringify({ normalize: 'bogus' }));
      expect(() => readServingPreprocess(dir)).toThrow(/preprocess config: normalize/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where a non-square image lies in the square model input (aspect kept, centred)', async () => {
    const img = await decodeImageBytes(writePng(8, 4, 1, 8, Array.from({ length: 32 }, (_, i) => i * 8)), 'wide.png');
    // 8×4 into 4×4: scale 1/2, so 4×2 pixels, centred vertically: rows 1…3
    expect(toRaster(img).inputRegion!([1, 4, 4])).toEqual({ x: 0, y: 1, width: 4, height: 2 });
    const x = toRaster(img).toInput!([1, 4, 4]);
    expect(Array.from(x.subarray(0, 4))).toEqual([0, 0, 0, 0]); // padding row
    expect(Array.from(x.subarray(12, 16))).toEqual([0, 0, 0, 0]);
  });
});
