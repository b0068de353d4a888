import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256 } from '../../core/files.ts';
import { fileTree } from '../helpers/tree.ts';
import { siteCounts, synthesizeFederation, type SynthOptions } from '../../data/synth/federation.ts';
import type { ImageJob } from '../../data/synth/image-files.ts';
import { synthesizeImage } from '../../data/synth/image.ts';
import { siteProfiles } from '../../data/synth/sites.ts';
import { autoWorkers, IMAGES_PER_WORKER, writeImages } from '../../data/synth/synth-pool.ts';
import { cleanup, tempDir } from './dcmtk.ts';

const root = tempDir('synth-parallel');
const BASE: Omit<SynthOptions, 'out'> = { sites: 3, imagesPerSite: 8, size: 32, seed: 11, largeFactor: 2, testFraction: 0.25 };
const IMAGES = siteCounts(BASE).reduce((a, b) => a + b, 0);
/** A file where the error tests want a folder. */
const blocker = path.join(root, 'blocker');

/** Writes BASE with `workers` threads, counting onImage calls per site. */
async function write(name: string, workers: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  await synthesizeFederation({ ...BASE, out: path.join(root, name), workers, onImage: (site) => (seen[site] = (seen[site] ?? 0) + 1) });
  return seen;
}

let seen: Record<string, Record<string, number>>;
beforeAll(async () => {
  writeFileSync(blocker, 'a file, not a folder');
  seen = { seq: await write('seq', 1), par: await write('par', 3) };
}, 60_000);
afterAll(() => cleanup(root));

describe('synthesizeFederation on worker threads', () => {
  it('writes byte for byte what the sequential writer writes', () => {
    const seq = fileTree(path.join(root, 'seq'));
    const par = fileTree(path.join(root, 'par'));
    // 2 files per image, plus train/test labels.csv per site and federation.json
    expect(seq.length).toBe(IMAGES * 2 + 3 * 2 + 1);
    expect(par).toEqual(seq);
  });

  it('writes each DICOM file as synthesizeImage makes it, and labels.csv in plan order', () => {
    const profiles = siteProfiles(BASE.sites, BASE.seed, BASE.largeFactor);
    for (const site of profiles) {
      const indices: number[] = [];
      for (const split of ['train', 'test']) {
        const dir = path.join(root, 'par', site.name, split);
        const lines = readFileSync(path.join(dir, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
        for (const line of lines) {
          const [file, label] = line.split(',');
          const index = Number(/-(\d+)\.dcm$/.exec(file)?.[1]) - 1;
          indices.push(index);
          const dicom = synthesizeImage(BASE.seed, site, index, label === '1', BASE.size).dicom;
          expect(sha256(readFileSync(path.join(dir, file)))).toBe(sha256(dicom));
        }
      }
      expect(indices.length).toBe(siteCounts(BASE)[profiles.indexOf(site)]);
      expect(new Set(indices).size).toBe(indices.length);
    }
  });

  it('calls onImage exactly once per image, with its site', () => {
    const expected = Object.fromEntries(siteProfiles(BASE.sites, BASE.seed, BASE.largeFactor).map((s, i) => [s.name, siteCounts(BASE)[i]]));
    expect(seen.seq).toEqual(expected);
    expect(seen.par).toEqual(expected);
  });

  it('stays on the calling thread for small federations', () => {
    expect(autoWorkers(IMAGES)).toBe(1);
    expect(autoWorkers(2 * IMAGES_PER_WORKER - 1)).toBe(1);
    expect(autoWorkers(100_000)).toBe(availableParallelism());
    expect(autoWorkers(2 * IMAGES_PER_WORKER)).toBe(Math.min(2, availableParallelism()));
  });

  it('rejects a bad worker count before touching the folder', async () => {
    await expect(synthesizeFederation({ ...BASE, out: path.join(root, 'none'), workers: 0 })).rejects.toThrow(/workers must be a positive integer/);
    expect(() => statSync(path.join(root, 'none'))).toThrow();
  });
});

describe('writeImages errors', () => {
  it('rejects with the failing file and terminates every worker', async () => {
    const site = siteProfiles(1, 3, 1)[0];
    const job = (index: number, dir: string): ImageJob => {
      const files = { dicomFile: path.join(dir, `${index}.dcm`), maskFile: path.join(dir, 'masks', `${index}.png`) };
      return { seed: 3, size: 32, site, index, positive: index % 2 === 0, ...files };
    };
    const ok = path.join(root, 'ok');
    const jobs = [0, 1, 2, 3, 4, 5].map((i) => job(i, i === 3 ? path.join(blocker, 'x') : ok));
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    let written = 0;
    try {
      const run = writeImages(jobs, 2, () => written++);
      await expect(run).rejects.toThrow(/^synth: could not write .*blocker\/x\/3\.dcm: ENOTDIR/);
      expect(terminate).toHaveBeenCalledTimes(2);
      expect(written).toBeLessThan(jobs.length);
      // the same failure on the calling thread gives the same message
      await expect(writeImages(jobs, 1, () => undefined)).rejects.toThrow(/^synth: could not write .*blocker\/x\/3\.dcm: ENOTDIR/);
    } finally {
      terminate.mockRestore();
    }
  }, 30_000);

  it('rejects synthesizeFederation when its folder cannot be made', async () => {
    const out = path.join(root, 'blocker', 'fed');
    await expect(synthesizeFederation({ ...BASE, out, workers: 2 })).rejects.toThrow(/^synth: could not write .*site-a-\d{5}\.dcm: ENOTDIR/);
  }, 30_000);
});
