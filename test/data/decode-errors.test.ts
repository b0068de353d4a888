import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../core/errors.ts';
import { decodeImageFile } from '../../data/decode.ts';
import { runCli } from '../helpers/cli.ts';
import { cleanup, dcmtk, sampleBytes, tempDir, writeDicom } from './dcmtk.ts';

// Bad files end in a UserError naming the file and the reason; through the CLI, one line and exit 2.
let dir: string;
let good: string;
const values = Array.from({ length: 16 * 20 }, (_, i) => (i * 13) % 4096);

beforeAll(() => {
  dir = tempDir('bad');
  good = writeDicom(dir, 'good', { rows: 16, columns: 20, bitsAllocated: 16, bitsStored: 12, extra: ['(0028,1052) DS [-100]', '(0028,1053) DS [2]'] }, sampleBytes(values, 16));
});
afterAll(() => cleanup(dir));

function put(name: string, bytes: Uint8Array | string): string {
  const p = path.join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function reason(file: string): Promise<string> {
  try {
    await decodeImageFile(file);
  } catch (e) {
    expect(isUserError(e)).toBe(true);
    const msg = (e as Error).message;
    expect(msg.startsWith(file)).toBe(true);
    return msg;
  }
  throw new Error(`${file} decoded without error`);
}

describe('bad files', () => {
  it('not DICOM', async () => {
    expect(await reason(put('notes.dcm', 'just some text, long enough '.repeat(10)))).toMatch(/not DICOM/);
  });

  it('empty', async () => {
    expect(await reason(put('empty.dcm', ''))).toMatch(/empty file/);
  });

  it('missing', async () => {
    expect(await reason(path.join(dir, 'nope.dcm'))).toMatch(/cannot read \(ENOENT\)/);
  });

  it('truncated inside the pixel data', async () => {
    const b = readFileSync(good);
    expect(await reason(put('cut-pixels.dcm', b.subarray(0, b.length - 100)))).toMatch(/truncated/);
  });

  it('truncated inside the header', async () => {
    expect(await reason(put('cut-header.dcm', readFileSync(good).subarray(0, 200)))).toMatch(/truncated|missing required meta header attribute 0002,0010/);
  });

  it('no pixel data', async () => {
    const f = path.join(dir, 'nopix.dcm');
    dcmtk('dcmodify', ['-nb', '-ea', '(7fe0,0010)', writeDicom(dir, 'nopix-src', { rows: 4, columns: 4, bitsAllocated: 8, bitsStored: 8 }, sampleBytes(new Array(16).fill(1), 8))]);
    writeFileSync(f, readFileSync(path.join(dir, 'nopix-src.dcm')));
    expect(await reason(f)).toMatch(/no pixel data/);
  });

  it('unsupported transfer syntax', async () => {
    const b = Buffer.from(readFileSync(good));
    const at = b.indexOf('1.2.840.10008.1.2.1\0', 0, 'latin1');
    expect(at).toBeGreaterThan(0);
    b.write('1.2.840.10008.1.2.9', at, 'latin1');
    expect(await reason(put('mpeg.dcm', b))).toMatch(/unsupported transfer syntax 1\.2\.840\.10008\.1\.2\.9/);
  });
});

describe('fedkd inspect', () => {
  it('--json prints one line with the header facts and value range after the modality LUT', () => {
    const r = runCli(['inspect', good, '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const mean = values.reduce((s, v) => s + (2 * v - 100), 0) / values.length;
    const out = JSON.parse(lines[0]);
    expect(out).toEqual({
      rows: 16, columns: 20, frames: 1, samplesPerPixel: 1, photometric: 'MONOCHROME2',
      transferSyntax: '1.2.840.10008.1.2.1', bitsStored: 12,
      min: 2 * Math.min(...values) - 100, max: 2 * Math.max(...values) - 100, mean: out.mean,
    });
    expect(out.mean).toBeCloseTo(mean, 3);
  });

  it('without --json prints a readable summary', () => {
    const r = runCli(['inspect', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Explicit VR Little Endian');
    expect(r.stdout).toContain('slope 2, intercept -100');
    expect(r.stdout).toMatch(/bits\s+12 stored of 16, unsigned/);
  });

  it('a bad file ends in one line on stderr and exit code 2', () => {
    const bad = put('bad.dcm', 'not an image at all'.repeat(20));
    const r = runCli(['inspect', bad, '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(bad);
  });
});
