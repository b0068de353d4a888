import { readFileSync } from 'node:fs';
import path from 'node:path';
import { info } from '../../core/log.ts';
import { unpackTensors } from '../../core/tensors.ts';
import type { PreprocessInput } from '../../data/index.ts';
import { softLabels } from '../../distill/soft-labels.ts';
import { runTeacher } from '../../distill/teacher.ts';
import { buildModel, countParams, saveModel, setNamedWeights } from '../../models/index.ts';
import { openSession } from '../../runtime/session.ts';
import { softmaxRows } from '../../train/classification.ts';
import { evaluate } from '../../train/evaluate.ts';
import { classifierAuc } from '../../train/metrics.ts';
import { trainClassifier } from '../../train/recipes.ts';
import { loadSitePart, sitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import type { ImageSet } from '../../train/types.ts';
import type { SimulateConfig } from './config.ts';

/** Test AUC at each site (site name → AUC), for one model. */
export type SiteAucs = Record<string, number>;

/** The comparison the report's summary table shows. */
export interface Comparison {
  sites: string[];
  federated: SiteAucs;
  /** Each site's student trained on that site alone, tested on that site. */
  local: SiteAucs;
  centralised: SiteAucs;
  teacher: SiteAucs;
  params: { student: number; teacher: number };
}

interface SiteSets {
  name: string;
  train: ImageSet;
  test: ImageSet;
  soft: Float32Array;
}

async function loadSites(c: SimulateConfig, sites: string[], teacher: string): Promise<SiteSets[]> {
  const pre: PreprocessInput = { size: c.image.size, channels: 1, window: c.image.window, normalize: c.image.normalize };
  const out: SiteSets[] = [];
  for (const s of sites) {
    const train = (await loadSitePart(s, 'train', pre))!;
    const test = (await loadSitePart(s, 'test', pre))!;
    const soft = await softLabels(teacher, train, { cacheDir: path.join(sitePart(s, 'train')!, '.fedkd-cache'), preprocess: pre });
    out.push({ name: path.basename(s), train, test, soft: soft.logits });
  }
  return out;
}

function recipe(c: SimulateConfig, label: string) {
  return { arch: c.student.arch, widthMultiplier: c.student.width, epochs: c.baselines.epochs, batchSize: c.student.batchSize, lr: c.student.lr, seed: c.seed, label };
}

/**
 * Evaluates the federated student at every site and trains the baselines it is compared
 * with: each site's student alone, a centralised student on the pooled data (both distilled
 * from the same teacher, as many epochs as `baselines.epochs`), and the teacher itself.
 * Saves the federated student as a tfjs model in `studentDir`.
 */
export async function compare(c: SimulateConfig, sites: string[], teacher: string, finalWeights: string, studentDir: string): Promise<Comparison> {
  const sets = await loadSites(c, sites, teacher);
  const names = sets.map((s) => s.name);
  const perSite = (f: (s: SiteSets) => number): SiteAucs => Object.fromEntries(sets.map((s) => [s.name, f(s)]));

  const fed = buildModel(c.student.arch, { inputSize: c.image.size, inputChannels: 1, numClasses: 2, widthMultiplier: c.student.width, seed: c.seed });
  setNamedWeights(fed, unpackTensors(new Uint8Array(readFileSync(finalWeights))));
  await saveModel(fed, studentDir);
  const federated = perSite((s) => evaluate(fed, s.test).auc);
  const studentParams = countParams(fed).total;
  fed.dispose();

  const local: SiteAucs = {};
  for (const s of sets) {
    info(`simulate: training ${s.name}'s student alone (${s.train.n} images)`);
    const { model } = await trainClassifier({ train: s.train, softLabels: s.soft, recipe: recipe(c, `${s.name} alone`) });
    local[s.name] = evaluate(model, s.test).auc;
    model.dispose();
  }

  info('simulate: training the centralised student on the pooled data');
  const pooledSoft = new Float32Array(sets.reduce((n, s) => n + s.soft.length, 0));
  sets.reduce((off, s) => (pooledSoft.set(s.soft, off), off + s.soft.length), 0);
  const central = await trainClassifier({ train: pool(sets.map((s) => s.train)), softLabels: pooledSoft, recipe: recipe(c, 'centralised') });
  const centralised = perSite((s) => evaluate(central.model, s.test).auc);
  central.model.dispose();

  const session = await openSession(teacher);
  const teacherAuc: SiteAucs = {};
  for (const s of sets) {
    const { logits } = await runTeacher(session, s.test, { batchSize: 32 });
    teacherAuc[s.name] = classifierAuc(softmaxRows(logits, 2), s.test.labels, 2);
  }
  await session.release();
  const teacherParams = (JSON.parse(readFileSync(`${teacher}.json`, 'utf8')) as { params: number }).params;
  return { sites: names, federated, local, centralised, teacher: teacherAuc, params: { student: studentParams, teacher: teacherParams } };
}
