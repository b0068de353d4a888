/**
 * A minimal DICOM Part 10 writer for native grey images in Explicit VR Little Endian:
 * enough for benchmark folders and fixtures written without dcmtk. (The synthetic
 * federation in data/synth/ writes its richer files with dcmjs.)
 */

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const IMPLEMENTATION_UID = '1.2.826.0.1.3680043.10.1234.1';
const LONG_VRS = new Set(['OB', 'OW', 'SQ', 'UN', 'UT']);

/** A grey image to write: samples as 16-bit (or 8-bit) integers, plus a few header facts. */
export interface NativeGreyImage {
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  samples: Int16Array | Uint16Array | Uint8Array;
  sopInstanceUid: string;
  photometric?: 'MONOCHROME1' | 'MONOCHROME2';
  modality?: string;
  pixelSpacing?: [number, number];
  window?: { center: number; width: number };
  rescale?: { slope: number; intercept: number };
}

function element(group: number, elem: number, vr: string, value: Uint8Array): Uint8Array {
  const padded = value.length % 2 ? Uint8Array.from([...value, vr === 'UI' || LONG_VRS.has(vr) ? 0 : 0x20]) : value;
  const long = LONG_VRS.has(vr);
  const out = new Uint8Array((long ? 12 : 8) + padded.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, group, true);
  dv.setUint16(2, elem, true);
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, padded.length, true);
  else dv.setUint16(6, padded.length, true);
  out.set(padded, long ? 12 : 8);
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const us = (v: number): Uint8Array => Uint8Array.from([v & 0xff, v >> 8]);
const ds = (v: number): string => String(Number(v.toPrecision(10)));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encodes one grey image as a DICOM Part 10 file (Secondary Capture, Explicit VR Little Endian). */
export function encodeDicomGrey(img: NativeGreyImage): Uint8Array {
  const metaBody = concat([
    element(0x0002, 0x0001, 'OB', Uint8Array.from([0, 1])),
    element(0x0002, 0x0002, 'UI', text(SECONDARY_CAPTURE)),
    element(0x0002, 0x0003, 'UI', text(img.sopInstanceUid)),
    element(0x0002, 0x0010, 'UI', text(EXPLICIT_LE)),
    element(0x0002, 0x0012, 'UI', text(IMPLEMENTATION_UID)),
  ]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaBody.length, true);
  const pixels = new Uint8Array(img.samples.buffer, img.samples.byteOffset, img.samples.byteLength);
  const parts = [
    new Uint8Array(128),
    text('DICM'),
    element(0x0002, 0x0000, 'UL', groupLength),
    metaBody,
    element(0x0008, 0x0016, 'UI', text(SECONDARY_CAPTURE)),
    element(0x0008, 0x0018, 'UI', text(img.sopInstanceUid)),
    element(0x0008, 0x0060, 'CS', text(img.modality ?? 'OT')),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0004, 'CS', text(img.photometric ?? 'MONOCHROME2')),
    element(0x0028, 0x0010, 'US', us(img.rows)),
    element(0x0028, 0x0011, 'US', us(img.columns)),
    ...(img.pixelSpacing ? [element(0x0028, 0x0030, 'DS', text(img.pixelSpacing.map(ds).join('\\')))] : []),
    element(0x0028, 0x0100, 'US', us(img.bitsAllocated)),
    element(0x0028, 0x0101, 'US', us(img.bitsStored)),
    element(0x0028, 0x0102, 'US', us(img.bitsStored - 1)),
    element(0x0028, 0x0103, 'US', us(img.signed ? 1 : 0)),
    ...(img.window ? [element(0x0028, 0x1050, 'DS', text(ds(img.window.center))), element(0x0028, 0x1051, 'DS', text(ds(img.window.width)))] : []),
    ...(img.rescale ? [element(0x0028, 0x1052, 'DS', text(ds(img.rescale.intercept))), element(0x0028, 0x1053, 'DS', text(ds(img.rescale.slope)))] : []),
    element(0x7fe0, 0x0010, img.bitsAllocated === 8 ? 'OB' : 'OW', pixels),
  ];
  return concat(parts);
}
