/**
 * A small DICOM Part 10 writer (PS3.10 §7, PS3.5 §7): 128-byte preamble, "DICM", the File
 * Meta Information in explicit VR little endian, then the data set in explicit or implicit
 * VR little endian, with native or encapsulated (PS3.5 §A.4) pixel data. It writes only the
 * flat, sequence-free data sets the synthetic federation needs; reading is left to the
 * maintained decoders.
 */
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './uid.ts';

/** Value representations this writer can encode. */
export type Vr = 'AE' | 'AS' | 'CS' | 'DA' | 'DS' | 'IS' | 'LO' | 'PN' | 'SH' | 'TM' | 'UI' | 'US' | 'UL' | 'SS' | 'OB' | 'OW' | 'LT';

/** One data element: a tag (group << 16 | element), its VR and its value. Strings with several values use `\`. */
export interface DicomElement {
  tag: number;
  vr: Vr;
  value: string | number | readonly number[] | Uint8Array;
}

/** Transfer syntax UIDs (PS3.5 §10, Annex A). */
export const TransferSyntax = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  rleLossless: '1.2.840.10008.1.2.5',
} as const;

/** One of the transfer syntaxes this writer produces. */
export type TransferSyntaxUid = (typeof TransferSyntax)[keyof typeof TransferSyntax];

/** Pixel data either native (little-endian bytes of the pixel cells) or as encapsulated fragments (one frame per fragment). */
export type PixelData = { kind: 'native'; bytes: Uint8Array } | { kind: 'encapsulated'; fragments: Uint8Array[] };

const PIXEL_DATA = 0x7fe00010;
const LONG_VRS = new Set<Vr>(['OB', 'OW']);
const ITEM = 0xfffee000;
const SEQUENCE_DELIMITER = 0xfffee0dd;

/** Builds a growing little-endian byte buffer. */
class ByteSink {
  private chunks: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.bytes(b);
  }

  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.bytes(b);
  }

  tag(tag: number): void {
    this.u16(tag >>> 16);
    this.u16(tag & 0xffff);
  }

  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/** Encodes an element's value to its even-length byte form (PS3.5 §6.2: UI pads with NUL, other strings with a space). */
export function encodeValue(el: DicomElement): Uint8Array {
  const { vr, value } = el;
  if (value instanceof Uint8Array) return padEven(value, 0);
  if (vr === 'US' || vr === 'SS' || vr === 'UL') {
    const nums = typeof value === 'number' ? [value] : (value as readonly number[]);
    const size = vr === 'UL' ? 4 : 2;
    const b = new Uint8Array(nums.length * size);
    const dv = new DataView(b.buffer);
    nums.forEach((n, i) => {
      if (vr === 'US') dv.setUint16(i * size, n, true);
      else if (vr === 'SS') dv.setInt16(i * size, n, true);
      else dv.setUint32(i * size, n, true);
    });
    return b;
  }
  const text = Array.isArray(value) ? value.join('\\') : String(value);
  return padEven(new TextEncoder().encode(text), vr === 'UI' ? 0 : 0x20);
}

function padEven(b: Uint8Array, pad: number): Uint8Array {
  if (b.length % 2 === 0) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = pad;
  return out;
}

function writeElement(sink: ByteSink, el: DicomElement, explicit: boolean): void {
  const v = encodeValue(el);
  sink.tag(el.tag);
  if (!explicit) {
    sink.u32(v.length);
  } else if (LONG_VRS.has(el.vr)) {
    sink.bytes(new TextEncoder().encode(el.vr));
    sink.u16(0);
    sink.u32(v.length);
  } else {
    if (v.length > 0xffff) throw new Error(`value of (${el.tag.toString(16)}) too long for VR ${el.vr}`);
    sink.bytes(new TextEncoder().encode(el.vr));
    sink.u16(v.length);
  }
  sink.bytes(v);
}

/** Encapsulated pixel data (PS3.5 §A.4): OB of undefined length, an empty Basic Offset Table, one item per fragment, a delimiter. */
function writeEncapsulated(sink: ByteSink, fragments: Uint8Array[]): void {
  sink.tag(PIXEL_DATA);
  sink.bytes(new TextEncoder().encode('OB'));
  sink.u16(0);
  sink.u32(0xffffffff);
  sink.tag(ITEM);
  sink.u32(0);
  for (const f of fragments) {
    const even = padEven(f, 0);
    sink.tag(ITEM);
    sink.u32(even.length);
    sink.bytes(even);
  }
  sink.tag(SEQUENCE_DELIMITER);
  sink.u32(0);
}

/** The File Meta Information group (0002), with its group length, always explicit VR little endian. */
function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntax: TransferSyntaxUid): Uint8Array {
  const body = new ByteSink();
  const els: DicomElement[] = [
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: sopClassUid },
    { tag: 0x00020003, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00020010, vr: 'UI', value: transferSyntax },
    { tag: 0x00020012, vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: 0x00020013, vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
  ];
  for (const el of els) writeElement(body, el, true);
  const out = new ByteSink();
  writeElement(out, { tag: 0x00020000, vr: 'UL', value: body.length }, true);
  out.bytes(body.concat());
  return out.concat();
}

/**
 * Serialises a data set to a Part 10 file. `elements` must not hold group 0002 or Pixel Data;
 * the SOP Class and Instance UIDs are read from (0008,0016) and (0008,0018). Elements are
 * written in ascending tag order, as PS3.5 §7.1 requires.
 */
export function writeDicomFile(elements: readonly DicomElement[], pixels: PixelData, transferSyntax: TransferSyntaxUid): Uint8Array {
  const find = (tag: number): string => {
    const el = elements.find((e) => e.tag === tag);
    if (!el || typeof el.value !== 'string') throw new Error(`data set lacks (${tag.toString(16).padStart(8, '0')})`);
    return el.value;
  };
  const encapsulated = transferSyntax === TransferSyntax.rleLossless;
  if (encapsulated !== (pixels.kind === 'encapsulated')) throw new Error(`pixel data kind ${pixels.kind} does not fit ${transferSyntax}`);
  const explicit = transferSyntax !== TransferSyntax.implicitLittle;
  const sink = new ByteSink();
  sink.bytes(new Uint8Array(128));
  sink.bytes(new TextEncoder().encode('DICM'));
  sink.bytes(fileMeta(find(0x00080016), find(0x00080018), transferSyntax));
  const sorted = [...elements].sort((a, b) => a.tag - b.tag);
  for (const el of sorted) {
    if (el.tag >>> 16 === 0x0002 || el.tag === PIXEL_DATA) throw new Error('meta and pixel elements are written by writeDicomFile itself');
    writeElement(sink, el, explicit);
  }
  if (pixels.kind === 'native') writeElement(sink, { tag: PIXEL_DATA, vr: 'OW', value: pixels.bytes }, explicit);
  else writeEncapsulated(sink, pixels.fragments);
  return sink.concat();
}
