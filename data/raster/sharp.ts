import sharp from 'sharp';
import { UserError } from '../../core/errors.ts';
import type { DecodedImage } from '../image.ts';
import { decodeBmp, isBmp } from './bmp.ts';

/** The raster formats fedkd reads besides DICOM, told apart by their magic bytes. */
export type RasterFormat = 'png' | 'jpeg' | 'bmp' | 'tiff';

/** The raster format of these bytes, or null when they are none fedkd reads. */
export function rasterFormat(b: Uint8Array): RasterFormat | null {
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  if (isBmp(b)) return 'bmp';
  return null;
}

/**
 * Decodes a PNG, JPEG or TIFF (8 or 16 bits per sample, grey or colour; alpha dropped)
 * with sharp, or a BMP with fedkd's own reader. Grey stays one channel; colour is RGB.
 */
export async function decodeRaster(b: Uint8Array, format: RasterFormat, source: string): Promise<DecodedImage> {
  let width: number, height: number, channels: 1 | 3, bits: number, values: Float32Array;
  try {
    if (format === 'bmp') {
      const img = decodeBmp(b);
      ({ width, height, channels } = img);
      bits = 8;
      values = Float32Array.from(img.data);
    } else {
      const meta = await sharp(b).metadata();
      const wide = meta.depth === 'ushort' || meta.depth === 'short';
      const grey = (meta.channels ?? 3) <= 2;
      // sharp would widen grey to sRGB and narrow 16-bit to 8: ask for the colour space and depth
      const pipeline = grey ? sharp(b).toColourspace(wide ? 'grey16' : 'b-w') : sharp(b).removeAlpha().toColourspace(wide ? 'rgb16' : 'srgb');
      const { data, info } = await pipeline.raw({ depth: wide ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
      width = info.width;
      height = info.height;
      bits = wide ? 16 : 8;
      const all = wide ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data);
      if (info.channels === 1 || info.channels === 3) {
        channels = info.channels;
        values = Float32Array.from(all);
      } else if (info.channels === 2) {
        channels = 1;
        values = Float32Array.from({ length: width * height }, (_, i) => all[2 * i]);
      } else {
        throw new Error(`${info.channels} channels after dropping alpha`);
      }
    }
  } catch (e) {
    throw new UserError(`${source}: cannot decode ${format.toUpperCase()} image (${(e as Error).message})`);
  }
  return {
    source,
    format,
    rows: height,
    columns: width,
    frames: 1,
    samplesPerPixel: channels,
    channels,
    photometric: channels === 1 ? 'MONOCHROME2' : 'RGB',
    transferSyntax: null,
    bitsAllocated: bits,
    bitsStored: bits,
    signed: false,
    pixels: [values],
    invert: false,
    rescale: { slope: 1, intercept: 0 },
    windows: [],
    pixelSpacing: null,
    modality: null,
  };
}
