import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import { ensurePretrainedStudent, pretrainedFile } from '../../cli/simulate/pretrain.ts';
import { ensureFederation, PUBLIC_SITES, publicSeed, teacherSites } from '../../cli/simulate/steps.ts';
import { sha256 } from '../../core/files.ts';
import { unpackTensors } from '../../core/tensors.ts';
import { initBackend } from '../../engine/backend.ts';
import { getNamedWeights } from '../../models/index.ts';
import { trainClassifier } from '../../train/recipes.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import { decodeImageFile } from '../../data/index.ts';
import { tempDir } from '../federation/fixtures.ts';

/** sha256 of every decoded image's pixels under `sites` (train and test). */
async function pixelHashes(sites: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const site of sites) {
    for (const part of ['train', 'test']) {
      const rows = readFileSync(path.join(site, part, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
      for (const row of rows) {
        const img = await decodeImageFile(path.join(site, part, row.split(',')[0]));
        const px = img.pixels[0];
        out.push(sha256(new Uint8Array(px.buffer, px.byteOffset, px.byteLength)));
      }
    }
  }
  return out;
}

describe("simulate: the teacher's public collection", () => {
  it('is its own eight sites, drawn from another seed, sharing no image with the hospitals', async () => {
    const dir = tempDir('sim-public');
    const file = path.join(dir, 'sim.yaml');
    writeFileSync(file, 'work: work\nseed: 3\nfederation: {imagesPerSite: 8, testImages: 4, size: 32}\nteacher: {publicImages: 24}\n');
    const c = loadSimulateConfig(file, false);
    const sites = await ensureFederation(c);
    const teacher = await teacherSites(c, sites);
    expect(teacher).toHaveLength(PUBLIC_SITES);
    expect(teacher.every((t) => !sites.includes(t) && path.dirname(t).startsWith(path.join(c.work, 'public-')))).toBe(true);
    const manifest = JSON.parse(readFileSync(path.join(path.dirname(teacher[0]), 'federation.json'), 'utf8')) as { seed: number; sites: { train: { images: number }; test: { images: number } }[] };
    expect(manifest.seed).toBe(publicSeed(3));
    expect(manifest.seed).not.toBe(3);
    // 24 images over 8 sites of equal size: 3 each
    expect(manifest.sites.map((s) => s.train.images + s.test.images)).toEqual(Array(8).fill(3));
    const hospital = new Set(await pixelHashes(sites));
    const pub = await pixelHashes(teacher);
    expect(hospital.size).toBe(24 + 3 * 8 + 4 * 4); // all distinct: 24 training images at site-a, 8 at the others, 4 test images each
    expect(pub.filter((h) => hospital.has(h))).toEqual([]);
    // with the same seed the first sites would repeat the hospitals' images: the guard is needed
    expect(publicSeed(0xffffffff)).toBe(1_000_002);
    const zero = loadSimulateConfig(file, false);
    zero.teacher.publicImages = 0;
    expect(await teacherSites(zero, sites)).toEqual(sites);
  }, 60_000);

  it('pre-trains the student on the public collection’s training images alone, once, and reuses it', async () => {
    await initBackend('cpu');
    const dir = tempDir('sim-pretrain');
    const file = path.join(dir, 'sim.yaml');
    writeFileSync(file, 'work: work\nseed: 5\nfederation: {imagesPerSite: 8, testImages: 4, size: 32}\nimage: {size: 16}\nteacher: {publicImages: 48}\nstudent: {pretrainEpochs: 2}\n');
    const c = loadSimulateConfig(file, false);
    const pub = await teacherSites(c, await ensureFederation(c));
    const weights = await ensurePretrainedStudent(c, pub);
    expect(weights).toBe(pretrainedFile(c, pub));
    // a second implementation: the same recipe on the pooled public training images
    const pre = { size: 16, channels: 1 as const, window: c.image.window, normalize: c.image.normalize };
    const train = pool(await Promise.all(pub.map(async (s) => (await loadSitePart(s, 'train', pre))!)));
    const held = JSON.parse(readFileSync(path.join(path.dirname(pub[0]), 'federation.json'), 'utf8')) as { sites: { train: { images: number }; test: { images: number } }[] };
    expect(train.n).toBe(held.sites.reduce((n, s) => n + s.train.images, 0)); // the training images only
    expect(train.n).toBeLessThan(48);
    const { model } = await trainClassifier({ train, recipe: { arch: c.student.arch, widthMultiplier: c.student.width, epochs: 2, batchSize: c.student.batchSize, lr: c.student.lr, seed: 5 } });
    const saved = unpackTensors(new Uint8Array(readFileSync(weights!)));
    const own = getNamedWeights(model);
    expect(saved.map((w) => w.name)).toEqual(own.map((w) => w.name));
    saved.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(own[i].data)));
    const before = statSync(weights!).mtimeMs;
    expect(await ensurePretrainedStudent(c, pub)).toBe(weights);
    expect(statSync(weights!).mtimeMs).toBe(before);
    const none = loadSimulateConfig(file, false);
    none.student.pretrainEpochs = 0;
    expect(await ensurePretrainedStudent(none, pub)).toBeUndefined();
  }, 120_000);
});
