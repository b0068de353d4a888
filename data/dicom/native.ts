import type { CodecFrame } from '../codecs/frame.ts';

/** The layout of native (uncompressed) pixel data, from the Image Pixel module (PS3.3 C.7.6.3). */
export interface NativeLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  signed: boolean;
  /** Planar Configuration 1: all of sample 0, then all of sample 1, … */
  planar: boolean;
  /** Samples are big endian (for 8-bit samples: stored in big-endian 16-bit words, VR OW). */
  bigEndian: boolean;
  /** YBR_FULL_422 stores two luma samples and one Cb/Cr pair per two pixels. */
  chroma422: boolean;
}

/** Bytes one native frame occupies. */
export function nativeFrameBytes(l: NativeLayout): number {
  const samples = l.chroma422 ? l.rows * l.columns * 2 : l.rows * l.columns * l.samplesPerPixel;
  return (samples * l.bitsAllocated) / 8;
}

/**
 * Reads frame `index` of native pixel data into pixel-interleaved samples: byte order
 * swapped for big endian, planes interleaved, 4:2:2 chroma expanded to one Cb/Cr per pixel.
 */
export function readNativeFrame(data: Uint8Array, index: number, l: NativeLayout): CodecFrame {
  const bytes = nativeFrameBytes(l);
  const start = index * bytes;
  if (start + bytes > data.length) throw new Error(`pixel data holds ${data.length} bytes, frame ${index + 1} needs bytes ${start}–${start + bytes}`);
  const raw = data.subarray(start, start + bytes);
  const count = (bytes * 8) / l.bitsAllocated;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = !l.bigEndian;
  let samples: CodecFrame['samples'];
  switch (l.bitsAllocated) {
    case 8: {
      const b = l.bigEndian ? swapPairs(raw) : raw;
      samples = l.signed ? Int16Array.from(new Int8Array(b.buffer, b.byteOffset, count)) : b.slice();
      break;
    }
    case 16:
      if (le && raw.byteOffset % 2 === 0) {
        // aligned: a view, no copy (maskStoredBits makes the float copy)
        samples = l.signed ? new Int16Array(raw.buffer, raw.byteOffset, count) : new Uint16Array(raw.buffer, raw.byteOffset, count);
        break;
      }
      samples = l.signed ? new Int16Array(count) : new Uint16Array(count);
      if (le) new Uint8Array(samples.buffer).set(raw.subarray(0, count * 2));
      else for (let i = 0; i < count; i++) samples[i] = l.signed ? dv.getInt16(2 * i, false) : dv.getUint16(2 * i, false);
      break;
    case 32:
      samples = l.signed ? new Int32Array(count) : new Uint32Array(count);
      for (let i = 0; i < count; i++) samples[i] = l.signed ? dv.getInt32(4 * i, le) : dv.getUint32(4 * i, le);
      break;
    default:
      throw new Error(`BitsAllocated ${l.bitsAllocated} is not supported`);
  }
  const pixels = l.rows * l.columns;
  if (l.chroma422) samples = expand422(samples, pixels);
  else if (l.planar && l.samplesPerPixel > 1) samples = deplane(samples, pixels, l.samplesPerPixel);
  return { width: l.columns, height: l.rows, components: l.samplesPerPixel, samples };
}

/** 8-bit samples in an OW element of a big-endian file sit byte-swapped within each 16-bit word. */
function swapPairs(b: Uint8Array): Uint8Array {
  const out = b.slice();
  for (let i = 0; i + 1 < b.length; i += 2) {
    out[i] = b[i + 1];
    out[i + 1] = b[i];
  }
  return out;
}

function deplane(planar: CodecFrame['samples'], pixels: number, spp: number): CodecFrame['samples'] {
  const out = planar.slice();
  for (let c = 0; c < spp; c++) for (let i = 0; i < pixels; i++) out[i * spp + c] = planar[c * pixels + i];
  return out;
}

/** Y1 Y2 Cb Cr per pixel pair → Y Cb Cr per pixel (PS3.3 C.7.6.3.1.2, YBR_FULL_422). */
function expand422(s: CodecFrame['samples'], pixels: number): CodecFrame['samples'] {
  const out = new Uint16Array(pixels * 3);
  for (let p = 0, i = 0; p < pixels; p += 2, i += 4) {
    const cb = s[i + 2];
    const cr = s[i + 3];
    out.set([s[i], cb, cr], p * 3);
    if (p + 1 < pixels) out.set([s[i + 1], cb, cr], (p + 1) * 3);
  }
  return out;
}

/**
 * Keeps the low `bitsStored` bits of each sample and, for signed pixels, sign-extends
 * from bit `bitsStored − 1` (PS3.5 §8.1.1: bits above High Bit may hold anything).
 */
export function maskStoredBits(samples: CodecFrame['samples'], bitsStored: number, signed: boolean): Float32Array {
  const out = new Float32Array(samples.length);
  if (bitsStored >= 32) {
    out.set(samples);
    return out;
  }
  const mask = 2 ** bitsStored - 1;
  const sign = 2 ** (bitsStored - 1);
  if (!signed && bitsStored <= 30) {
    for (let i = 0; i < samples.length; i++) out[i] = samples[i] & mask;
    return out;
  }
  for (let i = 0; i < samples.length; i++) {
    const v = (samples[i] & mask) >>> 0;
    out[i] = signed && v >= sign ? v - 2 * sign : v;
  }
  return out;
}
