import type { DataSet, Element } from 'dicom-parser';
import { decodeWithWasm } from '../codecs/cornerstone.ts';
import type { CodecFrame } from '../codecs/frame.ts';
import { decodeJpegLossless } from '../codecs/jpeg-lossless.ts';
import { decodeRle } from '../codecs/rle.ts';
import { readNativeFrame, type NativeLayout } from './native.ts';
import { dicomParser } from './parse.ts';
import type { PixelEncoding } from './transfer-syntax.ts';

/** Everything needed to turn frame `index` of a Pixel Data element into samples. */
export interface FrameSource {
  ds: DataSet;
  pixelData: Element;
  encoding: PixelEncoding;
  frames: number;
  layout: NativeLayout;
}

/** The compressed bitstream of one frame of encapsulated pixel data (PS3.5 A.4), whatever the offset table holds. */
export function encapsulatedFrame(src: FrameSource, index: number): Uint8Array {
  const { ds, pixelData: el, frames } = src;
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) throw new Error('encapsulated pixel data holds no fragments');
  if (el.basicOffsetTable && el.basicOffsetTable.length > 0) return dicomParser.readEncapsulatedImageFrame(ds, el, index);
  if (fragments.length === frames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, index, 1);
  if (frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, fragments.length);
  return dicomParser.readEncapsulatedImageFrame(ds, el, index, dicomParser.createJPEGBasicOffsetTable(ds, el));
}

/** Decodes frame `index` to pixel-interleaved stored samples with the codec its transfer syntax names. */
export async function decodeFrame(src: FrameSource, index: number): Promise<CodecFrame> {
  const l = src.layout;
  if (src.encoding === 'native' || src.encoding === 'native-big-endian') {
    const bytes = src.ds.byteArray.subarray(src.pixelData.dataOffset, src.pixelData.dataOffset + src.pixelData.length);
    return readNativeFrame(bytes, index, l);
  }
  const bitstream = encapsulatedFrame(src, index);
  let frame: CodecFrame;
  switch (src.encoding) {
    case 'rle':
      frame = decodeRle(bitstream, l.rows, l.columns, l.samplesPerPixel, l.bitsAllocated, l.signed);
      break;
    case 'jpeg-lossless':
      frame = decodeJpegLossless(bitstream, l.rows, l.columns, l.samplesPerPixel, l.bitsAllocated >> 3, l.signed);
      break;
    default:
      frame = await decodeWithWasm(src.encoding, bitstream, l.signed);
  }
  if (frame.width !== l.columns || frame.height !== l.rows || frame.components !== l.samplesPerPixel) {
    throw new Error(`codec returned ${frame.width}×${frame.height}×${frame.components}, header says ${l.columns}×${l.rows}×${l.samplesPerPixel}`);
  }
  return frame;
}
