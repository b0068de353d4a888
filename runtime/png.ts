import { crc32, inflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Encodes an 8-bit greyscale image (row-major `width`·`height` bytes) as a PNG, with sharp as everywhere else in fedkd. */
export async function encodeGreyPng(width: number, height: number, pixels: Uint8Array): Promise<Buffer> {
  if (pixels.length !== width * height) throw new Error(`encodeGreyPng: ${pixels.length} bytes for ${width}×${height}`);
  return sharp(pixels, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

/** A greyscale PNG's samples, row-major, as stored (16-bit samples already in host order). */
export interface GreyPng {
  width: number;
  height: number;
  bitDepth: 8 | 16;
  samples: Uint8Array | Uint16Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Ancillary chunks that change no sample value; any other chunk sends the image to the general decoder. */
const INERT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME', 'bKGD']);

/** Undoes PNG's per-row filters (PNG spec §9: None, Sub, Up, Average, Paeth) in place; false on a bad filter type. */
function unfilter(data: Uint8Array, rows: number, stride: number, bpp: number, out: Uint8Array): boolean {
  for (let y = 0; y < rows; y++) {
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const up = dst - stride;
    const type = data[src - 1];
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[dst + x - bpp] : 0;
      const b = y > 0 ? out[up + x] : 0;
      let p: number;
      if (type === 0) p = 0;
      else if (type === 1) p = a;
      else if (type === 2) p = b;
      else if (type === 3) p = (a + b) >> 1;
      else if (type === 4) {
        const c = y > 0 && x >= bpp ? out[up + x - bpp] : 0;
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else return false;
      out[dst + x] = (data[src + x] + p) & 0xff;
    }
  }
  return true;
}

/**
 * Decodes the common medical PNG — greyscale, 8 or 16 bits, not interlaced, no chunk that
 * alters sample values (gamma, ICC, sBIT, transparency) — with zlib alone, exactly as stored:
 * the serving path's cheap alternative to setting up a sharp pipeline per request. Returns
 * null for any other PNG, and for a damaged one (bad CRC, truncated, bad filter), so the
 * general decoder handles it and reports its own error.
 */
export function decodeGreyPng(bytes: Uint8Array): GreyPng | null {
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let ended = false;
  for (let at = 8; at + 12 <= bytes.length && !ended; ) {
    const length = view.getUint32(at);
    const end = at + 12 + length;
    if (end > bytes.length) return null;
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    const body = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) return null;
    if (type === 'IHDR') {
      if (length !== 13) return null;
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      bitDepth = body[8];
      const [colourType, compression, filter, interlace] = [body[9], body[10], body[11], body[12]];
      if (colourType !== 0 || (bitDepth !== 8 && bitDepth !== 16) || compression || filter || interlace) return null;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') ended = true;
    else if (!INERT_CHUNKS.has(type)) return null;
    at = end;
  }
  if (!ended || !width || !height || !idat.length) return null;
  const bpp = bitDepth / 8;
  const stride = width * bpp;
  let raw: Uint8Array;
  try {
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat));
  } catch {
    return null;
  }
  if (raw.length < height * (stride + 1)) return null;
  const out = new Uint8Array(height * stride);
  if (!unfilter(raw, height, stride, bpp, out)) return null;
  if (bitDepth === 8) return { width, height, bitDepth: 8, samples: out };
  const samples = new Uint16Array(width * height);
  for (let i = 0; i < samples.length; i++) samples[i] = (out[2 * i] << 8) | out[2 * i + 1];
  return { width, height, bitDepth: 16, samples };
}
