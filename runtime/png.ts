import sharp from 'sharp';

/** Encodes an 8-bit greyscale image (row-major `width`·`height` bytes) as a PNG, with sharp as everywhere else in fedkd. */
export async function encodeGreyPng(width: number, height: number, pixels: Uint8Array): Promise<Buffer> {
  if (pixels.length !== width * height) throw new Error(`encodeGreyPng: ${pixels.length} bytes for ${width}×${height}`);
  return sharp(pixels, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}
