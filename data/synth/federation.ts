/**
 * `fedkd synth`: writes a synthetic federation of hospitals. For each site, `SITE/train/` and
 * `SITE/test/` hold DICOM files, `masks/*.png` (0 or 255, written with sharp) and a
 * `labels.csv` (`file,label,mask`), as docs/CONTRACTS.md describes; `federation.json` at the
 * top lists the sites and their settings. The same options give byte-identical output, whether
 * the images are written on this thread or, for larger federations, on worker threads
 * (data/synth/synth-pool.ts).
 */
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { Rng } from '../../core/rng.ts';
import type { ImageJob } from './image-files.ts';
import { siteMatrix } from './image.ts';
import { type SiteProfile, siteProfiles } from './sites.ts';
import { autoWorkers, writeImages } from './synth-pool.ts';

/** Options of one synthetic federation. */
export interface SynthOptions {
  out: string;
  sites: number;
  /** Images at an ordinary site; site-a holds `largeFactor` times as many. */
  imagesPerSite: number;
  /** Nominal matrix size in pixels (sites acquire at 0.5–1 times it). */
  size: number;
  seed: number;
  largeFactor: number;
  /** Fraction of each site's images held out in `test/`, stratified by label. */
  testFraction: number;
  /**
   * Held-out images at every site, the same number everywhere, instead of `testFraction`: each
   * site then holds its `imagesPerSite` (× `largeFactor` at site-a) training images plus these.
   * A site's test AUC is only as precise as its test split is large (train/metrics.ts
   * aucStandardError), and equal splits make the sites' AUCs equally precise.
   */
  testImages?: number;
  /** Replace an earlier federation in `out`. */
  force?: boolean;
  /** Called after each image is written, once per image, on the calling thread. */
  onImage?: (site: string) => void;
  /**
   * Threads that synthesise and write the images (data/synth/synth-pool.ts): 1 writes them
   * on the calling thread, in order. Default: one per core, but only for federations large
   * enough to repay starting the workers (below IMAGES_PER_WORKER·2 images, 1). The files do
   * not depend on it.
   */
  workers?: number;
}

/** One image's place in the federation. */
export interface PlannedImage {
  index: number;
  label: 0 | 1;
  split: 'train' | 'test';
}

/** What was written for one site (also its entry in federation.json). */
export interface SiteSummary {
  name: string;
  train: { images: number; positives: number };
  test: { images: number; positives: number };
  matrix: number;
  profile: SiteProfile;
}

/** The federation.json document. */
export interface FederationManifest {
  generator: 'fedkd synth';
  version: 1;
  seed: number;
  size: number;
  imagesPerSite: number;
  largeFactor: number;
  testFraction: number;
  /** Present when every site holds this many test images (SynthOptions.testImages). */
  testImages?: number;
  sites: SiteSummary[];
}

/** Default number of images at an ordinary site. */
export const DEFAULT_IMAGES_PER_SITE = 80;

/**
 * Which images of a site carry a nodule and which are held out: round(prevalence·n) positives,
 * shuffled with the site's seed. With a fraction, the test split takes round(fraction·count) of
 * each label (at least one of each when the site has two), so every site's test set has both
 * classes. With `{ images }`, it takes exactly that many, round(images·positives/count) of them
 * positive (at least one of each class, and at least one of each left for training).
 */
export function planSite(seed: number, site: SiteProfile, count: number, test: number | { images: number }): PlannedImage[] {
  const rng = new Rng(seed).fork(`${site.name}/plan`);
  const positives = Math.round(site.prevalence * count);
  const labels: (0 | 1)[] = rng.shuffle(Array.from({ length: count }, (_, i) => (i < positives ? 1 : 0)));
  const wanted = typeof test === 'number' ? testByFraction(count, positives, test) : testByCount(site.name, count, positives, test.images);
  return labels.map((label, index) => {
    const split = wanted[label] > 0 ? 'test' : 'train';
    if (split === 'test') wanted[label]--;
    return { index, label, split };
  });
}

function testByFraction(count: number, positives: number, fraction: number): Record<0 | 1, number> {
  const testOf = (n: number): number => (n >= 2 ? Math.max(1, Math.round(n * fraction)) : 0);
  return { 0: testOf(count - positives), 1: testOf(positives) };
}

function testByCount(site: string, count: number, positives: number, images: number): Record<0 | 1, number> {
  const negatives = count - positives;
  if (images < 2 || images > count - 2 || positives < 2 || negatives < 2) {
    throw new UserError(`${site}: a test split of ${images} images does not fit: it needs at least 2, and 2 images of each class left for training (the site has ${positives} with a nodule and ${negatives} without)`);
  }
  const pos = Math.min(positives - 1, Math.max(1, Math.round((images * positives) / count)));
  const neg = images - pos;
  if (neg > negatives - 1) throw new UserError(`${site}: a test split of ${images} images leaves no image without a nodule for training`);
  return { 0: neg, 1: pos };
}

async function prepareOut(out: string, force: boolean): Promise<void> {
  if (!existsSync(out)) return;
  const entries = await readdir(out);
  if (entries.length === 0) return;
  if (!entries.includes('federation.json')) throw new UserError(`${out} is not empty and holds no federation.json; choose an empty or new folder`);
  if (!force) throw new UserError(`${out} already holds a federation; pass --force to replace it`);
  for (const e of entries) if (/^site-[a-z]+$/.test(e) || e === 'federation.json') await rm(path.join(out, e), { recursive: true, force: true });
}

/** One site's plan, where its images go, and its labels.csv rows in plan order. */
interface SitePlan {
  summary: SiteSummary;
  jobs: ImageJob[];
  rows: Record<'train' | 'test', string[]>;
}

/** Plans one site: what each of its images is and where its files go. */
function planSiteFiles(opts: SynthOptions, site: SiteProfile, count: number): SitePlan {
  const plan = planSite(opts.seed, site, count, opts.testImages === undefined ? opts.testFraction : { images: opts.testImages });
  const rows: Record<'train' | 'test', string[]> = { train: [], test: [] };
  const jobs = plan.map((p): ImageJob => {
    const stem = `${site.name}-${String(p.index + 1).padStart(5, '0')}`;
    const dir = path.join(opts.out, site.name, p.split);
    rows[p.split].push(`${stem}.dcm,${p.label},masks/${stem}.png`);
    const files = { dicomFile: path.join(dir, `${stem}.dcm`), maskFile: path.join(dir, 'masks', `${stem}.png`) };
    return { seed: opts.seed, size: opts.size, site, index: p.index, positive: p.label === 1, ...files };
  });
  const count1 = (split: 'train' | 'test'): { images: number; positives: number } => {
    const ps = plan.filter((p) => p.split === split);
    return { images: ps.length, positives: ps.filter((p) => p.label === 1).length };
  };
  const summary: SiteSummary = { name: site.name, train: count1('train'), test: count1('test'), matrix: siteMatrix(opts.size, site), profile: site };
  return { summary, jobs, rows };
}

/** Writes a site's two labels.csv files. */
async function writeLabels(out: string, site: SitePlan): Promise<void> {
  for (const split of ['train', 'test'] as const) {
    await writeFileAtomic(path.join(out, site.summary.name, split, 'labels.csv'), `file,label,mask\n${site.rows[split].join('\n')}\n`);
  }
}

/** The number of images each site gets, its test split included. */
export function siteCounts(opts: Pick<SynthOptions, 'sites' | 'imagesPerSite' | 'largeFactor' | 'seed' | 'testImages'>): number[] {
  return siteProfiles(opts.sites, opts.seed, opts.largeFactor).map((s) => Math.round(opts.imagesPerSite * s.sizeFactor) + (opts.testImages ?? 0));
}

/** Writes the whole federation and returns its manifest (also written as federation.json). */
export async function synthesizeFederation(opts: SynthOptions): Promise<FederationManifest> {
  if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1)) throw new UserError(`workers must be a positive integer, got ${opts.workers}`);
  await prepareOut(opts.out, opts.force ?? false);
  const profiles = siteProfiles(opts.sites, opts.seed, opts.largeFactor);
  const counts = siteCounts(opts);
  const plans = profiles.map((p, i) => planSiteFiles(opts, p, counts[i]));
  const jobs = plans.flatMap((p) => p.jobs);
  await writeImages(jobs, opts.workers ?? autoWorkers(jobs.length), (job) => opts.onImage?.(job.site.name));
  for (const p of plans) await writeLabels(opts.out, p);
  const sites = plans.map((p) => p.summary);
  const manifest: FederationManifest = {
    generator: 'fedkd synth',
    version: 1,
    seed: opts.seed,
    size: opts.size,
    imagesPerSite: opts.imagesPerSite,
    largeFactor: opts.largeFactor,
    testFraction: opts.testFraction,
    ...(opts.testImages === undefined ? {} : { testImages: opts.testImages }),
    sites,
  };
  await writeFileAtomic(path.join(opts.out, 'federation.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
