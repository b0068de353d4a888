import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImageFile } from '../../data/decode.ts';
import { encodeDicomGrey } from '../../data/dicom/write.ts';
import { writeBenchFolder } from '../../data/throughput.ts';
import { runCli } from '../helpers/cli.ts';
import { cleanup, dcmtk, dcmtkPixels, maxAbsDiff, tempDir } from './dcmtk.ts';

// The DICOM writer behind `fedkd bench data` writes files dcmtk reads as we do; the bench
// command prints its one JSON line (speed itself is measured by bench/data.bench.ts, not here).
let dir: string;
beforeAll(() => {
  dir = tempDir('throughput');
});
afterAll(() => cleanup(dir));

describe('encodeDicomGrey', () => {
  it('writes a file dcmtk parses, with the pixels and header we gave', async () => {
    const samples = Int16Array.from({ length: 12 * 10 }, (_, i) => (i * 97) % 4096 - 2048);
    const file = path.join(dir, 'w.dcm');
    writeFileSync(file, encodeDicomGrey({
      rows: 10, columns: 12, bitsAllocated: 16, bitsStored: 12, signed: true, samples, sopInstanceUid: '1.2.3.4',
      pixelSpacing: [0.5, 0.25], window: { center: 10, width: 300 }, rescale: { slope: 2, intercept: -5 }, modality: 'CR',
    }));
    const dump = dcmtk('dcmdump', ['+L', file]);
    expect(dump).toMatch(/\(0028,0030\) DS \[0\.5\\0\.25\]/);
    expect(dump).toMatch(/\(0028,1053\) DS \[2\]/);
    const ref = new Int16Array(dcmtkPixels(file, null).buffer.slice(0));
    expect(maxAbsDiff(ref, samples)).toBe(0);
    const img = await decodeImageFile(file);
    expect(maxAbsDiff(img.pixels[0], Array.from(samples, (v) => 2 * v - 5))).toBe(0);
    expect(img.pixelSpacing).toEqual([0.5, 0.25]);
    expect(img.windows).toEqual([{ center: 10, width: 300 }]);
  });
});

describe('fedkd bench data', () => {
  it('--json prints one line with the figures for the folder it is given', async () => {
    const bench = path.join(dir, 'bench');
    await writeBenchFolder(bench, 4);
    const img = await decodeImageFile(path.join(bench, 'img00000.dcm'));
    expect([img.rows, img.columns, img.bitsAllocated, img.bitsStored]).toEqual([512, 512, 16, 12]);
    expect(readFileSync(path.join(bench, 'img00003.dcm')).length).toBeGreaterThan(512 * 512 * 2);
    const r = runCli(['bench', 'data', '--dir', bench, '--workers', '2', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]);
    expect(out).toMatchObject({ images: 4, workers: 2, outputSize: 128 });
    // seconds is printed to 1 ms and images/s to 0.1: their product is 4 within those roundings
    expect(Math.abs(out.imagesPerSecond * out.seconds - 4)).toBeLessThan(0.05 * out.seconds + 0.0005 * out.imagesPerSecond + 1e-9);
  });
});
