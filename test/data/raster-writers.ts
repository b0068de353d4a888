import { deflateSync } from 'node:zlib';

/**
 * Minimal, independent writers of the raster formats data/ reads, so decoding is checked
 * against pixels we chose rather than against another decoder.
 */

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data and CRC (PNG spec §5.3). */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG colour types by channel count: grey, grey+alpha, RGB, RGBA. */
const PNG_COLOUR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;

/** A PNG (filter 0 rows) of grey (1), grey+alpha (2), RGB (3) or RGBA (4) samples, 8 or 16 bits. */
export function writePng(width: number, height: number, channels: 1 | 2 | 3 | 4, bits: 8 | 16, samples: ArrayLike<number>): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([bits, PNG_COLOUR_TYPE[channels], 0, 0, 0], 8);
  const bps = bits / 8;
  const rowBytes = 1 + width * channels * bps;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++) {
      const v = samples[y * width * channels + i];
      if (bits === 8) raw[y * rowBytes + 1 + i] = v;
      else raw.writeUInt16BE(v, y * rowBytes + 1 + 2 * i);
    }
  }
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0))]);
}

/** An uncompressed little-endian grey TIFF, 8 or 16 bits, one strip. */
export function writeTiff(width: number, height: number, bits: 8 | 16, samples: ArrayLike<number>): Buffer {
  const bps = bits / 8;
  const data = Buffer.alloc(width * height * bps);
  for (let i = 0; i < width * height; i++) if (bits === 8) data[i] = samples[i];
  else data.writeUInt16LE(samples[i], 2 * i);
  const entries: [number, number, number, number][] = [
    [256, 3, 1, width], [257, 3, 1, height], [258, 3, 1, bits], [259, 3, 1, 1], [262, 3, 1, 1],
    [273, 4, 1, 0], [277, 3, 1, 1], [278, 3, 1, height], [279, 4, 1, data.length],
  ];
  const ifdAt = 8;
  const dataAt = ifdAt + 2 + entries.length * 12 + 4;
  entries[5][3] = dataAt;
  const out = Buffer.alloc(dataAt + data.length);
  out.write('II', 0, 'latin1');
  out.writeUInt16LE(42, 2);
  out.writeUInt32LE(ifdAt, 4);
  out.writeUInt16LE(entries.length, ifdAt);
  entries.forEach(([tag, type, count, value], i) => {
    const o = ifdAt + 2 + 12 * i;
    out.writeUInt16LE(tag, o);
    out.writeUInt16LE(type, o + 2);
    out.writeUInt32LE(count, o + 4);
    if (type === 3) out.writeUInt16LE(value, o + 8);
    else out.writeUInt32LE(value, o + 8);
  });
  out.set(data, dataAt);
  return out;
}

/** A bottom-up BMP: 8-bit with a grey palette (channels 1) or 24-bit BGR (channels 3). */
export function writeBmp(width: number, height: number, channels: 1 | 3, samples: ArrayLike<number>): Buffer {
  const bpp = channels === 1 ? 8 : 24;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  const paletteBytes = channels === 1 ? 1024 : 0;
  const dataAt = 54 + paletteBytes;
  const out = Buffer.alloc(dataAt + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(dataAt, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bpp, 28);
  out.writeUInt32LE(stride * height, 34);
  if (channels === 1) for (let i = 0; i < 256; i++) out.set([i, i, i, 0], 54 + 4 * i);
  for (let y = 0; y < height; y++) {
    const row = dataAt + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * channels;
      if (channels === 1) out[row + x] = samples[s];
      else out.set([samples[s + 2], samples[s + 1], samples[s]], row + 3 * x);
    }
  }
  return out;
}
