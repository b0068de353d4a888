import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../data/decode.ts';
import { TransferSyntax, encodeValue, writeDicomFile, type DicomElement } from '../../data/synth/dicom-writer.ts';
import { packBits, rleEncodeFrame } from '../../data/synth/rle.ts';
import { uidFromName } from '../../data/synth/uid.ts';
import { cleanup, dcmtk, dcmtkPixels, tempDir } from './dcmtk.ts';

const dir = tempDir('synth-writer');
afterAll(() => cleanup(dir));

function pack(bytes: number[]): number[] {
  const out: number[] = [];
  packBits(Uint8Array.from(bytes), out);
  return out;
}

describe('PackBits (PS3.5 G.3.1)', () => {
  it('encodes replicate and literal runs as worked out by hand', () => {
    // three 1s → replicate [-2, 1]; then 2,3,4,4 stay literal (a pair at the end is not worth a run)
    expect(pack([1, 1, 1, 2, 3, 4, 4])).toEqual([0xfe, 1, 3, 2, 3, 4, 4]);
    // literal 9,8 then replicate of four 7s
    expect(pack([9, 8, 7, 7, 7, 7])).toEqual([1, 9, 8, 0xfd, 7]);
    // a lone pair is a replicate run of two
    expect(pack([5, 5])).toEqual([0xff, 5]);
    expect(pack([6])).toEqual([0, 6]);
  });

  it('splits runs longer than 128 bytes and never emits -128', () => {
    const run = pack(new Array(300).fill(42));
    // 300 = 128 + 128 + 44 → headers 257-128 = 129, 129, 257-44 = 213
    expect(run).toEqual([129, 42, 129, 42, 213, 42]);
    const lit = pack(Array.from({ length: 130 }, (_, i) => i));
    expect(lit[0]).toBe(127);
    expect(lit[129]).toBe(1);
    expect(lit.length).toBe(132);
    expect([run[0], run[2], run[4], lit[0], lit[129]]).not.toContain(128);
  });
});

describe('RLE frame layout (PS3.5 G.5)', () => {
  it('puts the most significant byte segment first, row by row, even-padded, after a 64-byte header', () => {
    // two rows of two 16-bit pixels: 0x0102 0x0102 / 0x0304 0x0305
    const native = Uint8Array.from([0x02, 0x01, 0x02, 0x01, 0x04, 0x03, 0x05, 0x03]);
    const f = rleEncodeFrame(native, 2, 2, 2);
    const dv = new DataView(f.buffer);
    expect(dv.getUint32(0, true)).toBe(2);
    expect(dv.getUint32(4, true)).toBe(64);
    // high bytes: rows [1,1] [3,3] → [255,1, 255,3]; low bytes: rows [2,2] [4,5] → [255,2, 1,4,5] + pad 0
    expect(Array.from(f.subarray(64, 68))).toEqual([255, 1, 255, 3]);
    expect(dv.getUint32(8, true)).toBe(68);
    expect(Array.from(f.subarray(68))).toEqual([255, 2, 1, 4, 5, 0]);
    for (let i = 12; i < 64; i += 4) expect(dv.getUint32(i, true)).toBe(0);
  });
});

describe('DICOM values (PS3.5 §6.2)', () => {
  it('pads UIDs with NUL and other strings with a space, and writes binary VRs little-endian', () => {
    expect(Array.from(encodeValue({ tag: 0x00080018, vr: 'UI', value: '1.2.3' }))).toEqual([49, 46, 50, 46, 51, 0]);
    expect(Array.from(encodeValue({ tag: 0x00080060, vr: 'CS', value: 'DX' }))).toEqual([68, 88]);
    expect(Array.from(encodeValue({ tag: 0x00080060, vr: 'CS', value: 'CR1' }))).toEqual([67, 82, 49, 32]);
    expect(Array.from(encodeValue({ tag: 0x00280010, vr: 'US', value: 513 }))).toEqual([1, 2]);
    expect(Array.from(encodeValue({ tag: 0x00281041, vr: 'SS', value: -2 }))).toEqual([0xfe, 0xff]);
  });

  it('makes 2.25 UIDs that are valid, stable and distinct', () => {
    const a = uidFromName('x');
    expect(a).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(uidFromName('x')).toBe(a);
    expect(uidFromName('y')).not.toBe(a);
    // the UUID carries version 8 and the RFC 9562 variant
    const hex = BigInt(a.slice(5)).toString(16).padStart(32, '0');
    expect(hex[12]).toBe('8');
    expect(['8', '9', 'a', 'b']).toContain(hex[16]);
  });
});

/** A 3×4 signed 16-bit image whose stored values we know. */
const STORED = [-32768, -1, 0, 1, 2, 300, 300, 300, 32767, -5, -5, 7];

function tinyFile(ts: (typeof TransferSyntax)[keyof typeof TransferSyntax]): string {
  const els: DicomElement[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.1' },
    { tag: 0x00080018, vr: 'UI', value: uidFromName(`tiny/${ts}`) },
    { tag: 0x00080060, vr: 'CS', value: 'CR' },
    { tag: 0x00100020, vr: 'LO', value: 'P1' },
    { tag: 0x00280002, vr: 'US', value: 1 },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    { tag: 0x00280010, vr: 'US', value: 3 },
    { tag: 0x00280011, vr: 'US', value: 4 },
    { tag: 0x00280100, vr: 'US', value: 16 },
    { tag: 0x00280101, vr: 'US', value: 16 },
    { tag: 0x00280102, vr: 'US', value: 15 },
    { tag: 0x00280103, vr: 'US', value: 1 },
    { tag: 0x00281052, vr: 'DS', value: '10' },
    { tag: 0x00281053, vr: 'DS', value: '0.5' },
  ];
  const native = new Uint8Array(STORED.length * 2);
  STORED.forEach((v, i) => new DataView(native.buffer).setInt16(i * 2, v, true));
  const pixels = ts === TransferSyntax.rleLossless ? { kind: 'encapsulated' as const, fragments: [rleEncodeFrame(native, 3, 4, 2)] } : { kind: 'native' as const, bytes: native };
  const file = path.join(dir, `tiny-${ts}.dcm`);
  writeFileSync(file, writeDicomFile(els, pixels, ts));
  return file;
}

describe('writeDicomFile read back by dcmtk and by data/decode.ts', () => {
  for (const ts of Object.values(TransferSyntax)) {
    it(`writes ${ts} that dcmdump parses and whose pixels dcmtk and fedkd decode to the stored values`, async () => {
      const file = tinyFile(ts);
      const dump = dcmtk('dcmdump', ['-q', file]);
      expect(dump).toContain('(0028,0010) US 3');
      expect(dump).toContain('(0028,0011) US 4');
      expect(dump).toContain('(0010,0020) LO [P1]');
      expect(dump).toMatch(new RegExp(`\\(0002,0010\\) UI (=\\w+|\\[${ts.replace(/\./g, '\\.')}\\])`));
      const raw = dcmtkPixels(file, ts === TransferSyntax.rleLossless ? 'dcmdrle' : null);
      const got = Array.from({ length: STORED.length }, (_, i) => new DataView(raw.buffer, raw.byteOffset).getInt16(i * 2, true));
      expect(got).toEqual(STORED);
      const img = await decodeImageFile(file);
      expect(Array.from(img.pixels[0])).toEqual(STORED.map((v) => v * 0.5 + 10));
      expect(readFileSync(file).subarray(128, 132).toString()).toBe('DICM');
    });
  }
});
