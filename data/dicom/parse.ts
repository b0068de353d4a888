import { createRequire } from 'node:module';
import type { DataSet } from 'dicom-parser';
import { inflateRaw } from 'pako';

type DicomParser = typeof import('dicom-parser');

/** dicom-parser is a UMD bundle whose named exports Node's ESM loader cannot see: load it through require. */
export const dicomParser = createRequire(import.meta.url)('dicom-parser') as DicomParser;

/** True when the bytes carry the DICOM Part 10 preamble and "DICM" magic at offset 128. */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * Parses a DICOM Part 10 file. Deflated Explicit VR Little Endian data sets are inflated
 * with pako. Throws an Error whose message says what went wrong (dicom-parser throws
 * strings or `{exception}` objects; both are turned into a message).
 */
export function parseDicomBytes(bytes: Uint8Array): DataSet {
  try {
    return dicomParser.parseDicom(bytes, { inflater: inflateDataSet });
  } catch (e) {
    throw new Error(parserMessage(e), { cause: e });
  }
}

/** dicom-parser's inflater hook: returns the meta header followed by the inflated data set. */
function inflateDataSet(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateRaw(bytes.subarray(position));
  const out = new Uint8Array(position + inflated.length);
  out.set(bytes.subarray(0, position));
  out.set(inflated, position);
  return out;
}

function parserMessage(e: unknown): string {
  const inner = e && typeof e === 'object' && 'exception' in e ? (e as { exception: unknown }).exception : e;
  const text = inner instanceof Error ? inner.message : String(inner);
  return text.replace(/^dicomParser\.\w+: /, '');
}

/** Reads a multi-valued decimal string (DS) as numbers; empty when absent. */
export function decimals(ds: DataSet, tag: string): number[] {
  const n = ds.numStringValues(tag) ?? 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = ds.floatString(tag, i);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}

/** The transfer syntax UID of a parsed file (the default Implicit VR Little Endian when absent). */
export function transferSyntaxUid(ds: DataSet): string {
  return (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
}
