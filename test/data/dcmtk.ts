import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Test fixtures made by dcmtk: DICOM files written by dump2dcm from raw pixels we generate,
 * transcoded by dcmconv/dcmcjpeg/dcmcjpls/dcmcrle, and decoded by dcmtk for reference.
 */

/** A fresh temporary folder, removed by `cleanup`. */
export function tempDir(label: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `fedkd-${label}-`));
}

/** Removes a temporary folder. */
export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs a dcmtk tool, throwing with its stderr on failure. */
export function dcmtk(tool: string, args: string[]): string {
  return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The header of a DICOM file to build with dump2dcm. */
export interface DicomSpec {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  signed?: boolean;
  samplesPerPixel?: number;
  photometric?: string;
  planar?: boolean;
  frames?: number;
  /** Extra dump lines, e.g. `(0028,1053) DS [2]`. */
  extra?: string[];
  /** Transfer syntax keyword for the meta header (default LittleEndianExplicit). */
  syntax?: string;
}

/** Little-endian bytes of integer samples for Pixel Data (8 or 16 bits allocated; two's complement for negatives). */
export function sampleBytes(values: ArrayLike<number>, bitsAllocated: number): Uint8Array {
  if (bitsAllocated === 8) return Uint8Array.from(values, (v) => v & 0xff);
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setUint16(2 * i, values[i] & 0xffff, true);
  return out;
}

/** Writes a DICOM file with dump2dcm: native pixel data from `pixels`, or encapsulated `fragments` (one per frame). */
export function writeDicom(dir: string, name: string, spec: DicomSpec, pixels: Uint8Array | null, fragments: Uint8Array[] = []): string {
  const lines = [
    `(0002,0010) UI =${spec.syntax ?? 'LittleEndianExplicit'}`,
    '(0008,0016) UI =SecondaryCaptureImageStorage',
    `(0008,0018) UI [1.2.826.0.1.3680043.9.7777.${Math.floor(Math.random() * 1e9)}]`,
    '(0008,0060) CS [OT]',
    `(0028,0002) US ${spec.samplesPerPixel ?? 1}`,
    `(0028,0004) CS [${spec.photometric ?? 'MONOCHROME2'}]`,
    ...(spec.samplesPerPixel === 3 ? [`(0028,0006) US ${spec.planar ? 1 : 0}`] : []),
    ...(spec.frames ? [`(0028,0008) IS [${spec.frames}]`] : []),
    `(0028,0010) US ${spec.rows}`,
    `(0028,0011) US ${spec.columns}`,
    `(0028,0100) US ${spec.bitsAllocated}`,
    `(0028,0101) US ${spec.bitsStored}`,
    `(0028,0102) US ${spec.bitsStored - 1}`,
    `(0028,0103) US ${spec.signed ? 1 : 0}`,
    ...(spec.extra ?? []),
  ];
  if (pixels) {
    const raw = path.join(dir, `${name}.pixels`);
    writeFileSync(raw, pixels);
    lines.push(`(7fe0,0010) ${spec.bitsAllocated > 8 ? 'OW' : 'OB'} =${raw}`);
  } else if (fragments.length) {
    lines.push('(7fe0,0010) OB (PixelSequence)', '(fffe,e000) pi (no value available)');
    fragments.forEach((f, i) => {
      const p = path.join(dir, `${name}.frag${i}`);
      writeFileSync(p, f.length % 2 ? Uint8Array.from([...f, 0]) : f);
      lines.push(`(fffe,e000) pi =${p}`);
    });
    lines.push('(fffe,e0dd) na (SequenceDelimitationItem)');
  }
  const dump = path.join(dir, `${name}.dump`);
  writeFileSync(dump, `${lines.join('\n')}\n`);
  const out = path.join(dir, `${name}.dcm`);
  dcmtk('dump2dcm', ['+E', dump, out]);
  return out;
}

/** dcmtk's own decoding: decompresses with `decompressor` (dcmdjpeg, dcmdjpls, dcmdrle) and returns the raw little-endian Pixel Data. */
export function dcmtkPixels(file: string, decompressor: string | null): Uint8Array {
  const dir = tempDir('ref');
  try {
    let src = file;
    if (decompressor) {
      src = path.join(dir, 'plain.dcm');
      dcmtk(decompressor, ['+te', file, src]);
    }
    dcmtk('dcmdump', ['+W', dir, src]);
    const raws = readdirSync(dir).filter((f) => f.endsWith('.raw'));
    const biggest = raws.map((f) => readFileSync(path.join(dir, f))).sort((a, b) => b.length - a.length)[0];
    return new Uint8Array(biggest);
  } finally {
    cleanup(dir);
  }
}

/** Deterministic test pixels with structure (gradients, edges) and noise, in [lo, hi]. */
export function testPattern(n: number, columns: number, lo: number, hi: number, seed = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const x = i % columns;
    const y = Math.floor(i / columns);
    const base = ((x * 37 + y * 11) % 97) / 96 + (x > columns / 2 ? 0.3 : 0);
    const v = lo + (hi - lo) * Math.min(1, base * 0.75 + (s / 2 ** 32) * 0.25);
    out.push(Math.round(v));
  }
  return out;
}

/** Largest absolute difference between two equally long sequences. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
