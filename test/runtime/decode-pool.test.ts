import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserError } from '../../core/errors.ts';
import { createPrepare, type PrepareOptions } from '../../cli/serve/prepare.ts';
import { OverloadError } from '../../runtime/batcher.ts';
import { DecodePool } from '../../runtime/decode-pool.ts';
import type { PrepareJob } from '../../runtime/prepare.ts';
import { ROOT } from '../helpers/cli.ts';
import { cleanup, sampleBytes, tempDir, writeDicom } from '../data/dcmtk.ts';
import { writePng } from '../data/raster-writers.ts';

const MODULE = pathToFileURL(path.join(ROOT, 'cli', 'serve', 'prepare.ts')).href;
const OPTIONS: PrepareOptions = { preprocess: { window: 'file' } };
const ramp = (n: number, max: number) => Array.from({ length: n }, (_, i) => Math.round((i * max) / (n - 1)));

let dir: string;
let pool: DecodePool;
const images: Record<string, Uint8Array> = {};

beforeAll(async () => {
  dir = tempDir('fedkd-decode-pool');
  images['png8'] = writePng(4, 4, 1, 8, [0, 85, 170, 255, 0, 85, 170, 255, 0, 85, 170, 255, 0, 85, 170, 255]);
  images['png16'] = writePng(24, 20, 1, 16, ramp(480, 65535));
  images['png-rgb'] = writePng(6, 5, 3, 8, ramp(90, 255));
  images['jpeg'] = await sharp(Buffer.from(ramp(32 * 24, 255)), { raw: { width: 32, height: 24, channels: 1 } }).jpeg({ quality: 90 }).toBuffer();
  const px = sampleBytes(ramp(30 * 20, 4000), 16);
  images['dicom'] = readFileSync(writeDicom(dir, 'ct', { rows: 20, columns: 30, bitsAllocated: 16, bitsStored: 12, extra: ['(0028,1050) DS [1500]', '(0028,1051) DS [2000]'] }, px));
  pool = await DecodePool.start({ module: MODULE, options: OPTIONS, size: 2 });
});

afterAll(async () => {
  await pool?.close();
  cleanup(dir);
});

const job = (name: string, shape: [number, number, number], display = true): PrepareJob => ({ bytes: new Uint8Array(images[name]), name, shape, display });

describe('the decode pool', () => {
  it('returns exactly what the in-thread path returns, for PNG (8/16-bit, RGB), JPEG and DICOM', async () => {
    const inThread = createPrepare(OPTIONS);
    for (const name of Object.keys(images)) {
      for (const shape of [[1, 16, 16], [3, 8, 8]] as [number, number, number][]) {
        const [a, b] = [await pool.run(job(name, shape)), await inThread(job(name, shape))];
        expect(Array.from(a.input), `${name} ${shape}`).toEqual(Array.from(b.input));
        expect(a.region).toEqual(b.region);
        expect(a.display).toEqual(b.display);
        expect(a.input.length).toBe(shape[0] * shape[1] * shape[2]);
      }
    }
  });

  it("gives the hand-computed input: a 4-px 8-bit ramp's full window is 0, 1/3, 2/3, 1", async () => {
    const r = await pool.run(job('png8', [1, 4, 4], false));
    expect(Array.from(r.input.subarray(0, 4))).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
    expect(r.display).toBeUndefined();
    expect(r.region).toEqual({ x: 0, y: 0, width: 4, height: 4 });
  });

  it('turns a bad image into a UserError and keeps working', async () => {
    const bad = pool.run({ bytes: new TextEncoder().encode('not an image'), name: 'junk', shape: [1, 4, 4], display: false });
    await expect(bad).rejects.toSatisfy((e: unknown) => isUserError(e) && /^junk: not DICOM/.test((e as Error).message));
    expect((await pool.run(job('png8', [1, 4, 4], false))).input.length).toBe(16);
  });

  it('refuses jobs beyond its queue with an OverloadError', async () => {
    const small = await DecodePool.start({ module: MODULE, options: OPTIONS, size: 1, maxQueue: 3 });
    try {
      // one worker holds 2 jobs at once, 3 more wait, the other 5 are refused at once
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => small.run(job('png16', [1, 16, 16], false))));
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused.length).toBe(5);
      for (const r of refused) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(OverloadError);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(5);
    } finally {
      await small.close();
    }
  });

  it('fails only the jobs of a worker that dies, and starts a new one', async () => {
    const crashy = await DecodePool.start({ module: pathToFileURL(path.join(ROOT, 'test', 'runtime', 'fixtures', 'crashy-prepare.ts')).href, size: 1 });
    try {
      const ask = (name: string, bytes: number[]) => crashy.run({ bytes: Uint8Array.from(bytes), name, shape: [1, 1, bytes.length], display: false });
      const [a, b] = [ask('crash', [1]), ask('after', [7, 9])];
      await expect(a).rejects.toThrow(/^decode worker exited with code 3$/);
      await expect(b).rejects.toThrow(/^decode worker exited with code 3$/);
      expect(Array.from((await ask('later', [4, 5, 6])).input)).toEqual([4, 5, 6]);
    } finally {
      await crashy.close();
    }
  });
});
