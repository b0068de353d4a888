import type { DataSet } from 'dicom-parser';
import { UserError } from '../../core/errors.ts';
import type { DecodedImage } from '../image.ts';
import { applyPalette, ybrFullToRgb } from './colour.ts';
import { decodeFrame, type FrameSource } from './frames.ts';
import { maskStoredBits, nativeFrameBytes, type NativeLayout } from './native.ts';
import { decimals, parseDicomBytes, transferSyntaxUid } from './parse.ts';
import { transferSyntax } from './transfer-syntax.ts';

/** Photometric interpretations whose stored samples are already RGB once the codec is done. */
const RGB_LIKE = new Set(['RGB', 'YBR_RCT', 'YBR_ICT']);
const GREY = new Set(['MONOCHROME1', 'MONOCHROME2']);

/**
 * Decodes a DICOM Part 10 file (or a bare data set read with `rawSyntax`): every frame, bits masked to Bits Stored and sign-extended,
 * colour converted to RGB, and the modality LUT (Rescale Slope/Intercept) applied to grey
 * images. Files fedkd cannot read raise a UserError naming `source` and the reason.
 */
export async function decodeDicom(bytes: Uint8Array, source: string, rawSyntax?: string): Promise<DecodedImage> {
  const fail = (why: string): UserError => new UserError(`${source}: ${why}`);
  let ds: DataSet;
  try {
    ds = parseDicomBytes(bytes, rawSyntax);
  } catch (e) {
    const why = (e as Error).message;
    const cut = /overrun|greater than or equal to|end of (buffer|file)/i.test(why);
    throw fail(`${cut ? 'truncated DICOM file, it ends inside an element' : 'not a readable DICOM file'} (${why})`);
  }
  const tsUid = transferSyntaxUid(ds);
  const ts = transferSyntax(tsUid);
  if (!ts) throw fail(`unsupported transfer syntax ${tsUid}`);
  const pixelData = ds.elements.x7fe00010;
  if (!pixelData) throw fail('no pixel data (7FE0,0010) in this DICOM file');
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  const spp = ds.uint16('x00280002') ?? 1;
  const bitsAllocated = ds.uint16('x00280100') ?? 0;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const signed = ds.uint16('x00280103') === 1;
  const photometric = (ds.string('x00280004') ?? (spp === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const frames = Math.max(1, ds.intString('x00280008') ?? 1);
  if (!rows || !columns || !bitsAllocated) throw fail('Rows, Columns or Bits Allocated missing or zero');
  if (spp !== 1 && spp !== 3) throw fail(`${spp} samples per pixel is not supported`);
  if (ts.encoding === 'jpeg-baseline' && bitsAllocated > 8) {
    throw fail(`${bitsStored}-bit JPEG extended (process 4) is not supported: the libjpeg-turbo codec decodes 8-bit JPEG only`);
  }
  const layout: NativeLayout = {
    rows,
    columns,
    samplesPerPixel: spp,
    bitsAllocated,
    signed,
    planar: ds.uint16('x00280006') === 1,
    bigEndian: ts.encoding === 'native-big-endian' && (bitsAllocated > 8 || pixelData.vr === 'OW'),
    chroma422: photometric === 'YBR_FULL_422' && (ts.encoding === 'native' || ts.encoding === 'native-big-endian'),
  };
  if (!pixelData.encapsulatedPixelData) {
    const need = frames * nativeFrameBytes(layout);
    if (pixelData.length < need || pixelData.dataOffset + need > ds.byteArray.length) {
      throw fail(`truncated: pixel data holds ${Math.min(pixelData.length, ds.byteArray.length - pixelData.dataOffset)} bytes, ${frames} frame(s) need ${need}`);
    }
  }
  const src: FrameSource = { ds, pixelData, encoding: ts.encoding, frames, layout };
  const channels: 1 | 3 = spp === 3 || photometric === 'PALETTE COLOR' ? 3 : 1;
  const pixels: Float32Array[] = [];
  for (let f = 0; f < frames; f++) {
    let frame;
    try {
      frame = await decodeFrame(src, f);
    } catch (e) {
      throw fail(`cannot decode frame ${f + 1} (${ts.name}): ${(e as Error).message}`);
    }
    const stored = maskStoredBits(frame.samples, Math.min(bitsStored, bitsAllocated), signed);
    pixels.push(toOutput(ds, stored, photometric, ts.encoding, signed, fail));
  }
  const slope = channels === 1 ? (ds.floatString('x00281053') ?? 1) : 1;
  const intercept = channels === 1 ? (ds.floatString('x00281052') ?? 0) : 0;
  if (slope !== 1 || intercept !== 0) for (const p of pixels) for (let i = 0; i < p.length; i++) p[i] = p[i] * slope + intercept;
  return {
    source,
    format: 'dicom',
    rows,
    columns,
    frames,
    samplesPerPixel: spp,
    channels,
    photometric,
    transferSyntax: tsUid,
    bitsAllocated,
    bitsStored,
    signed,
    pixels,
    invert: photometric === 'MONOCHROME1',
    rescale: { slope, intercept },
    windows: windowsOf(ds),
    pixelSpacing: spacingOf(ds),
    modality: ds.string('x00080060')?.trim() || null,
  };
}

/** Turns one frame's stored samples into output values: palette lookup, YBR → RGB, or as they are. */
function toOutput(ds: DataSet, stored: Float32Array, photometric: string, encoding: string, signed: boolean, fail: (why: string) => UserError): Float32Array {
  if (GREY.has(photometric) || RGB_LIKE.has(photometric)) return stored;
  if (photometric === 'PALETTE COLOR') {
    try {
      return applyPalette(ds, stored, signed);
    } catch (e) {
      throw fail((e as Error).message);
    }
  }
  if (photometric.startsWith('YBR_')) {
    // libjpeg-turbo already turns JPEG's YCbCr into RGB
    if (encoding === 'jpeg-baseline') return stored;
    if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422') {
      ybrFullToRgb(stored);
      return stored;
    }
  }
  throw fail(`photometric interpretation ${photometric} is not supported`);
}

function windowsOf(ds: DataSet): { center: number; width: number }[] {
  const c = decimals(ds, 'x00281050');
  const w = decimals(ds, 'x00281051');
  return c.slice(0, w.length).map((center, i) => ({ center, width: w[i] })).filter((x) => x.width > 0);
}

function spacingOf(ds: DataSet): [number, number] | null {
  for (const tag of ['x00280030', 'x00181164']) {
    const s = decimals(ds, tag);
    if (s.length >= 2 && s[0] > 0 && s[1] > 0) return [s[0], s[1]];
  }
  return null;
}
