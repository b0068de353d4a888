import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../core/files.ts';
import { fileTree } from '../helpers/tree.ts';
import { decodeImageFile } from '../../data/decode.ts';
import { TransferSyntax } from '../../data/synth/dicom-writer.ts';
import { synthesizeFederation, type FederationManifest } from '../../data/synth/federation.ts';
import { synthesizeImage } from '../../data/synth/image.ts';
import { siteProfiles } from '../../data/synth/sites.ts';
import { runCli } from '../helpers/cli.ts';
import { cleanup, dcmtkPixels, tempDir } from './dcmtk.ts';
import { correlation } from '../helpers/stats.ts';

const SEED = 7;
const SIZE = 64;
const ARGS = ['--sites', '4', '--images-per-site', '6', '--size', String(SIZE), '--seed', String(SEED)];
const root = tempDir('synth');
const outA = path.join(root, 'a');
const outB = path.join(root, 'b');
let manifest: FederationManifest;

interface Row {
  site: string;
  split: 'train' | 'test';
  file: string;
  label: number;
  mask: string;
  index: number;
}

function rows(): Row[] {
  return manifest.sites.flatMap((s) =>
    (['train', 'test'] as const).flatMap((split) => {
      const lines = readFileSync(path.join(outA, s.name, split, 'labels.csv'), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('file,label,mask');
      return lines.slice(1).map((l) => {
        const [file, label, mask] = l.split(',');
        return { site: s.name, split, file, label: Number(label), mask, index: Number(/-(\d+)\.dcm$/.exec(file)![1]) - 1 };
      });
    }),
  );
}

function source(r: Row): ReturnType<typeof synthesizeImage> {
  const profile = siteProfiles(4, SEED, 3).find((p) => p.name === r.site)!;
  return synthesizeImage(SEED, profile, r.index, r.label === 1, SIZE);
}

beforeAll(async () => {
  // two worker threads here, the library's one thread below: the trees must still be byte-identical
  const r = runCli(['synth', '--out', outA, ...ARGS, '--workers', '2', '--json']);
  expect(r.stderr).toContain('wrote 36 images');
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout) as { images: number; sites: { name: string }[] };
  expect([summary.images, summary.sites.map((s) => s.name)]).toEqual([36, ['site-a', 'site-b', 'site-c', 'site-d']]);
  // the second run goes through the library: the command adds nothing of its own to the files
  await synthesizeFederation({ out: outB, sites: 4, imagesPerSite: 6, size: SIZE, seed: SEED, largeFactor: 3, testFraction: 0.25 });
  manifest = JSON.parse(readFileSync(path.join(outA, 'federation.json'), 'utf8')) as FederationManifest;
});
afterAll(() => cleanup(root));

describe('fedkd synth', () => {
  it('gives byte-identical folders for the same seed (command and library alike)', () => {
    const a = fileTree(outA);
    expect(a.length).toBe(36 * 2 + 8 + 1);
    expect(fileTree(outB)).toEqual(a);
  });

  it('describes sites that differ the way hospitals do', () => {
    const s = manifest.sites;
    expect(s.map((x) => x.name)).toEqual(['site-a', 'site-b', 'site-c', 'site-d']);
    expect(s.map((x) => x.train.images + x.test.images)).toEqual([18, 6, 6, 6]);
    expect(s.filter((x) => x.profile.scanner.photometric === 'MONOCHROME1').length).toBe(1);
    expect(s.filter((x) => x.profile.transferSyntax === TransferSyntax.rleLossless).length).toBe(1);
    expect(new Set(s.map((x) => x.profile.scanner.bitsStored))).toEqual(new Set([12, 16]));
    expect(new Set(s.map((x) => x.profile.scanner.signed))).toEqual(new Set([true, false]));
    expect(new Set(s.map((x) => x.matrix)).size).toBe(3);
    expect(new Set(s.map((x) => x.profile.prevalence)).size).toBe(4);
    for (const x of s) expect(x.test.positives).toBeGreaterThan(0);
    for (const x of s) expect(x.test.images - x.test.positives).toBeGreaterThan(0);
  });

  it('lists every image in labels.csv with a PNG mask that marks exactly the nodule', async () => {
    const all = rows();
    expect(all.length).toBe(36);
    for (const r of all) {
      const site = manifest.sites.find((s) => s.name === r.site)!;
      const png = sharp(path.join(outA, r.site, r.split, r.mask));
      const meta = await png.metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', site.matrix, site.matrix, 1]);
      const data = await png.extractChannel(0).raw().toBuffer();
      const src = source(r);
      expect(Array.from(data)).toEqual(Array.from(src.mask, (v) => v * 255));
      expect(data.some((v) => v > 0)).toBe(r.label === 1);
    }
  });

  it('writes DICOM that dcmdump reads without complaint, with the headers of its site', () => {
    for (const r of rows()) {
      const site = manifest.sites.find((s) => s.name === r.site)!;
      const file = path.join(outA, r.site, r.split, r.file);
      const d = spawnSync('dcmdump', ['-M', file], { encoding: 'utf8' });
      expect(d.stderr).toBe('');
      expect(d.status).toBe(0);
      const out = d.stdout;
      expect(out).toContain(`(0028,0010) US ${site.matrix}`);
      expect(out).toContain(`(0028,0011) US ${site.matrix}`);
      expect(out).toContain(`(0028,0004) CS [${site.profile.scanner.photometric}]`);
      expect(out).toContain(`(0028,0101) US ${site.profile.scanner.bitsStored}`);
      expect(out).toContain(`(0028,0103) US ${site.profile.scanner.signed ? 1 : 0}`);
      expect(out).toContain(`(0008,0060) CS [${site.profile.modality}]`);
      const spacing = Number(/\(0028,0030\) DS \[([\d.]+)\\/.exec(out)?.[1]);
      expect(spacing).toBeCloseTo(400 / site.matrix, 6);
      for (const tag of ['0008,0018', '0020,000d', '0020,000e']) expect(out).toMatch(new RegExp(`\\(${tag}\\) UI \\[2\\.25\\.\\d+\\]`));
      const tsName = { [TransferSyntax.explicitLittle]: 'LittleEndianExplicit', [TransferSyntax.implicitLittle]: 'LittleEndianImplicit', [TransferSyntax.rleLossless]: 'RLELossless' }[site.profile.transferSyntax];
      expect(out).toContain(`(0002,0010) UI =${tsName}`);
    }
  });

  it('stores exactly the generated pixels: dcmtk and data/decode.ts both decode every file to the source array', async () => {
    for (const r of rows()) {
      const file = path.join(outA, r.site, r.split, r.file);
      const src = source(r);
      expect(sha256(readFileSync(file))).toBe(sha256(src.dicom));
      const rle = manifest.sites.find((s) => s.name === r.site)!.profile.transferSyntax === TransferSyntax.rleLossless;
      const raw = dcmtkPixels(file, rle ? 'dcmdrle' : null);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const signed = src.image.pixelRepresentation === 1;
      const dcmtkStored = Array.from({ length: src.image.stored.length }, (_, i) => (signed ? dv.getInt16(i * 2, true) : dv.getUint16(i * 2, true)));
      expect(dcmtkStored).toEqual(Array.from(src.image.stored));
      const img = await decodeImageFile(file);
      const modality = Array.from(src.image.stored, (v) => v * src.image.rescaleSlope + src.image.rescaleIntercept);
      expect(Array.from(img.pixels[0])).toEqual(modality);
      expect(img.invert).toBe(src.image.photometric === 'MONOCHROME1');
      expect(img.windows[0]).toEqual({ center: src.image.windowCenter, width: src.image.windowWidth });
    }
  });

  it('converts with dcm2pnm to an image whose brightness follows density (MONOCHROME1 inverted)', () => {
    const dir = path.join(root, 'pnm');
    mkdirSync(dir);
    for (const r of rows()) {
      const src = source(r);
      const out = path.join(dir, `${r.site}-${r.index}.pgm`);
      const c = spawnSync('dcm2pnm', ['+opw', path.join(outA, r.site, r.split, r.file), out], { encoding: 'utf8' });
      expect(c.stderr).toBe('');
      expect(c.status).toBe(0);
      const tokens = readFileSync(out, 'utf8').trim().split(/\s+/);
      expect(tokens.slice(0, 3)).toEqual(['P2', String(src.image.columns), String(src.image.rows)]);
      const pgm = tokens.slice(4).map(Number);
      expect(pgm.length).toBe(src.image.stored.length);
      const sign = src.image.photometric === 'MONOCHROME1' ? -1 : 1;
      const expected = Array.from(src.image.stored, (v) => sign * (v * src.image.rescaleSlope + src.image.rescaleIntercept));
      expect(correlation(pgm, expected)).toBeGreaterThan(0.9999);
    }
  });

  it('refuses a non-empty folder and an earlier federation without --force, in one line; --force replaces', async () => {
    const other = path.join(root, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'notes.txt'), 'keep me');
    const r1 = runCli(['synth', '--out', other, '--sites', '1', '--images-per-site', '2', '--size', '32']);
    expect(r1.code).toBe(2);
    expect(r1.stderr.trim().split('\n')).toHaveLength(1);
    expect(r1.stderr).toContain('holds no federation.json');
    const r3 = runCli(['synth', '--out', outA, ...ARGS]);
    expect(r3.code).toBe(2);
    expect(r3.stderr.trim().split('\n')).toHaveLength(1);
    expect(r3.stderr).toContain('--force');
    const small = path.join(root, 'small');
    const opts = { out: small, sites: 2, imagesPerSite: 2, size: 32, seed: 1, largeFactor: 1, testFraction: 0.5 };
    await synthesizeFederation(opts);
    await expect(synthesizeFederation(opts)).rejects.toThrow(/--force/);
    await synthesizeFederation({ ...opts, sites: 1, force: true });
    expect(readdirSync(small).sort()).toEqual(['federation.json', 'site-a']);
  });
});
