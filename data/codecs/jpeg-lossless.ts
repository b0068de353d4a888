import { Decoder } from 'jpeg-lossless-decoder-js';
import type { CodecFrame } from './frame.ts';

/**
 * Decodes a JPEG lossless frame (ITU-T T.81 process 14, any selection value; DICOM's
 * 1.2.840.10008.1.2.4.57 and .70) with jpeg-lossless-decoder-js. `bytesPerSample` is
 * BitsAllocated / 8; `signed` is the Pixel Representation (the bitstream stores the bits
 * as they are, so signed values are reinterpreted here).
 */
export function decodeJpegLossless(
  bitstream: Uint8Array,
  rows: number,
  columns: number,
  components: number,
  bytesPerSample: number,
  signed: boolean,
): CodecFrame {
  const copy = new Uint8Array(bitstream);
  const out = new Decoder().decode(copy.buffer, 0, copy.length, bytesPerSample > 1 ? 2 : 1);
  const expected = rows * columns * components;
  if (out.length < expected) throw new Error(`JPEG lossless frame holds ${out.length} samples, expected ${expected}`);
  let samples: CodecFrame['samples'] = out.subarray(0, expected);
  if (signed) samples = out instanceof Uint16Array ? new Int16Array(out.buffer, 0, expected) : Int16Array.from(new Int8Array(out.buffer, 0, expected));
  return { width: columns, height: rows, components, samples };
}
