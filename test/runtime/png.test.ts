import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeForServing } from '../../cli/serve/prepare.ts';
import { decodeImageBytes } from '../../data/decode.ts';
import { decodeGreyPng, encodeGreyPng } from '../../runtime/png.ts';
import { pngChunk, writePng } from '../data/raster-writers.ts';

const paeth = (a: number, b: number, c: number) => {
  const [pa, pb, pc] = [Math.abs(b - c), Math.abs(a - c), Math.abs(a + b - 2 * c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

/**
 * A grey PNG whose row y uses filter type y mod 5 (PNG spec §9.2, applied forward here), its
 * IDAT split in `parts`, optional extra chunks before IDAT: a reference independent of any decoder.
 */
function filteredPng(width: number, height: number, bits: 8 | 16, samples: number[], opts: { parts?: number; extra?: Buffer[]; interlace?: number } = {}): Buffer {
  const bpp = bits / 8;
  const stride = width * bpp;
  const rows = Array.from({ length: height }, (_, y) => {
    const r = Buffer.alloc(stride);
    for (let x = 0; x < width; x++) {
      if (bits === 8) r[x] = samples[y * width + x];
      else r.writeUInt16BE(samples[y * width + x], 2 * x);
    }
    return r;
  });
  const raw = Buffer.alloc(height * (stride + 1));
  rows.forEach((r, y) => {
    const type = y % 5;
    raw[y * (stride + 1)] = type;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? r[i - bpp] : 0;
      const b = y > 0 ? rows[y - 1][i] : 0;
      const c = y > 0 && i >= bpp ? rows[y - 1][i - bpp] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
      raw[y * (stride + 1) + 1 + i] = (r[i] - pred) & 0xff;
    }
  });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bits, 0, 0, 0, opts.interlace ?? 0], 8);
  const z = deflateSync(raw);
  const n = opts.parts ?? 1;
  const idat = Array.from({ length: n }, (_, i) => pngChunk('IDAT', z.subarray(Math.floor((i * z.length) / n), Math.floor(((i + 1) * z.length) / n))));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), ...(opts.extra ?? []), ...idat, pngChunk('IEND', Buffer.alloc(0))]);
}

/** Deterministic pseudo-random samples below `max`. */
const samplesOf = (n: number, max: number) => Array.from({ length: n }, (_, i) => (i * 7919 + ((i * i) % 97) * 131) % max);

describe('the zlib-only grey PNG decoder', () => {
  it('undoes all five row filters, 8 and 16 bits, IDAT split in three, and agrees with sharp', async () => {
    for (const bits of [8, 16] as const) {
      const want = samplesOf(13 * 11, bits === 8 ? 256 : 65536);
      const png = filteredPng(13, 11, bits, want, { parts: 3, extra: [pngChunk('tEXt', Buffer.from('Comment\0fedkd'))] });
      const got = decodeGreyPng(png);
      expect(got).toMatchObject({ width: 13, height: 11, bitDepth: bits });
      expect(Array.from(got!.samples)).toEqual(want);
      expect(Array.from((await decodeImageBytes(png, 'x.png')).pixels[0])).toEqual(want);
    }
  });

  it('reads what sharp encodes (adaptive filters) exactly as sharp decodes it', async () => {
    const png = await encodeGreyPng(37, 29, Uint8Array.from(samplesOf(37 * 29, 256)));
    const ours = await decodeForServing(png, 'a.png');
    const sharps = await decodeImageBytes(png, 'a.png');
    expect(decodeGreyPng(png)).not.toBeNull();
    expect({ ...ours, pixels: Array.from(ours.pixels[0]) }).toEqual({ ...sharps, pixels: Array.from(sharps.pixels[0]) });
  });

  it('declines colour, alpha, interlaced, gamma-tagged and damaged PNGs (the general decoder takes them)', async () => {
    const grey = filteredPng(4, 4, 8, samplesOf(16, 256));
    expect(decodeGreyPng(writePng(2, 2, 3, 8, samplesOf(12, 256)))).toBeNull();
    expect(decodeGreyPng(writePng(2, 2, 2, 8, samplesOf(8, 256)))).toBeNull();
    expect(decodeGreyPng(filteredPng(4, 4, 8, samplesOf(16, 256), { interlace: 1 }))).toBeNull();
    expect(decodeGreyPng(filteredPng(4, 4, 8, samplesOf(16, 256), { extra: [pngChunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))] }))).toBeNull();
    const badCrc = Buffer.from(grey);
    badCrc[grey.length - 20] ^= 1;
    expect(decodeGreyPng(badCrc)).toBeNull();
    expect(decodeGreyPng(grey.subarray(0, grey.length - 13))).toBeNull();
    // a damaged file gets the general decoder's one-line error
    await expect(decodeForServing(badCrc, 'bad.png')).rejects.toThrow(/^bad\.png: cannot decode PNG image/);
    // colour still decodes, through sharp
    const rgb = await decodeForServing(writePng(2, 1, 3, 8, [10, 20, 30, 40, 50, 60]), 'rgb.png');
    expect([rgb.channels, ...rgb.pixels[0]]).toEqual([3, 10, 20, 30, 40, 50, 60]);
  });
});
