import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { loadDataset, readLabels, type Dataset, type PreprocessInput } from '../data/index.ts';

/**
 * The dataset folder of one part of a site: `<site>/train` or `<site>/test` (docs/CONTRACTS.md).
 * A folder holding labels.csv itself counts as its own training part. Undefined when absent.
 */
export function sitePart(site: string, part: 'train' | 'test'): string | undefined {
  if (!existsSync(site)) throw new UserError(`no such site folder: ${site}`);
  const sub = path.join(site, part);
  if (existsSync(path.join(sub, 'labels.csv'))) return sub;
  if (part === 'train' && existsSync(path.join(site, 'labels.csv'))) return site;
  return undefined;
}

/** The training part's folder; a site without one is a UserError. */
export function trainingPart(site: string): string {
  const dir = sitePart(site, 'train');
  if (!dir) throw new UserError(`${site} has no training data (expected ${path.join(site, 'train', 'labels.csv')})`);
  return dir;
}

/** How many training images a site holds: the rows of its train/labels.csv, nothing decoded. */
export function trainingSize(site: string): number {
  return readLabels(trainingPart(site)).length;
}

/** Loads one part of a site with the preprocessing; a missing training part is a UserError. */
export async function loadSitePart(site: string, part: 'train' | 'test', preprocess: PreprocessInput): Promise<Dataset | undefined> {
  const dir = part === 'train' ? trainingPart(site) : sitePart(site, part);
  return dir ? loadDataset(dir, preprocess) : undefined;
}
