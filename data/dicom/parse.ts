import { createRequire } from 'node:module';
import type { DataSet } from 'dicom-parser';
import { inflateRaw } from 'pako';
import { EXPLICIT_LITTLE_UID, IMPLICIT_LITTLE_UID } from './transfer-syntax.ts';

type DicomParser = typeof import('dicom-parser');

/** dicom-parser is a UMD bundle whose named exports Node's ESM loader cannot see: load it through require. */
export const dicomParser = createRequire(import.meta.url)('dicom-parser') as DicomParser;

/** True when the bytes carry the DICOM Part 10 preamble and "DICM" magic at offset 128. */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * For a data set written without the Part 10 preamble and meta header (as old archives and
 * `dcmconv -F` write them), the transfer syntax to read it with: Explicit VR Little Endian when
 * the first element (group 0008) carries a two-letter VR, else Implicit VR Little Endian.
 * Null when the bytes do not start like such a data set.
 */
export function rawDataSetSyntax(bytes: Uint8Array): string | null {
  if (bytes.length < 8 || bytes[0] !== 0x08 || bytes[1] !== 0x00) return null;
  const upper = (b: number): boolean => b >= 0x41 && b <= 0x5a;
  return upper(bytes[4]) && upper(bytes[5]) ? EXPLICIT_LITTLE_UID : IMPLICIT_LITTLE_UID;
}

/**
 * Parses a DICOM Part 10 file, or a bare data set when `rawSyntax` (see rawDataSetSyntax) is given. Deflated Explicit VR Little Endian data sets are inflated
 * with pako. Throws an Error whose message says what went wrong (dicom-parser throws
 * strings or `{exception}` objects; both are turned into a message).
 */
export function parseDicomBytes(bytes: Uint8Array, rawSyntax?: string): DataSet {
  try {
    return dicomParser.parseDicom(bytes, { inflater: inflateDataSet, ...(rawSyntax ? { TransferSyntaxUID: rawSyntax } : {}) });
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
  const el = ds.elements.x00020010 as { Value?: unknown } | undefined;
  // a bare data set's syntax is the one we parsed it with, held as a Value rather than bytes
  if (el && typeof el.Value === 'string') return el.Value;
  return (ds.string('x00020010') ?? IMPLICIT_LITTLE_UID).replace(/\0/g, '').trim();
}
