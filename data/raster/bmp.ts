/**
 * A reader for uncompressed Windows BMP files (BITMAPINFOHEADER and later headers,
 * BI_RGB or BI_BITFIELDS with the usual masks): 8-bit palette, 24-bit BGR and 32-bit BGRX,
 * bottom-up or top-down. sharp (libvips) reads no BMP, so fedkd carries this one.
 */

/** Decoded BMP pixels: 1 channel when the palette is grey, else 3 (RGB), 8 bits each. */
export interface BmpImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/** True when the bytes start with the BMP "BM" signature. */
export function isBmp(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d;
}

/** Decodes a BMP; throws an Error saying why for variants it does not read (RLE, 1/4/16-bit). */
export function decodeBmp(b: Uint8Array): BmpImage {
  if (b.length < 54) throw new Error('BMP shorter than its headers');
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  if (headerSize < 40) throw new Error('BMP core headers (OS/2) are not supported');
  if (compression !== 0 && compression !== 3) throw new Error(`BMP compression ${compression} is not supported`);
  if (bpp !== 8 && bpp !== 24 && bpp !== 32) throw new Error(`${bpp}-bit BMP is not supported`);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (width <= 0 || height === 0 || dataOffset + stride * height > b.length) throw new Error('BMP truncated');
  const palette = bpp === 8 ? readPalette(b, 14 + headerSize, dv.getUint32(46, true) || 256) : null;
  const grey = palette !== null && palette.every((c) => c[0] === c[1] && c[1] === c[2]);
  const channels: 1 | 3 = grey ? 1 : 3;
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      if (palette) {
        const c = palette[b[row + x]] ?? [0, 0, 0];
        if (grey) data[o] = c[0];
        else data.set(c, o);
      } else {
        const p = row + x * (bpp >> 3);
        data[o] = b[p + 2];
        data[o + 1] = b[p + 1];
        data[o + 2] = b[p];
      }
    }
  }
  return { width, height, channels, data };
}

function readPalette(b: Uint8Array, at: number, count: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < count && at + 4 * i + 3 <= b.length; i++) out.push([b[at + 4 * i + 2], b[at + 4 * i + 1], b[at + 4 * i]]);
  return out;
}
