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

/** One baseline: every site's student alone, or the centralised student on the pooled data. */
export type BaselineKind = 'local' | 'centralised';

/** Test AUC per site of one baseline (and the teacher's, which the `local` run also scores). */
export interface BaselineResult {
  kind: BaselineKind;
  aucs: SiteAucs;
  teacher?: SiteAucs;
  teacherParams?: number;
}

/**
 * Trains one baseline the federated student is compared with, distilled from the same teacher
 * for `baselines.epochs` epochs: `local` trains each site's student on that site alone (and
 * scores the teacher), `centralised` one student on the pooled data. Each can run in its own
 * process beside the federation (cli/simulate/steps.ts startBaseline), as nothing in it
 * depends on the federated run.
 */
export async function trainBaseline(c: SimulateConfig, sites: string[], teacher: string, kind: BaselineKind): Promise<BaselineResult> {
  const sets = await loadSites(c, sites, teacher);
  const perSite = (f: (s: SiteSets) => number): SiteAucs => Object.fromEntries(sets.map((s) => [s.name, f(s)]));
  if (kind === 'centralised') {
    info('simulate: training the centralised student on the pooled data');
    const pooledSoft = new Float32Array(sets.reduce((n, s) => n + s.soft.length, 0));
    sets.reduce((off, s) => (pooledSoft.set(s.soft, off), off + s.soft.length), 0);
    const central = await trainClassifier({ train: pool(sets.map((s) => s.train)), softLabels: pooledSoft, recipe: recipe(c, 'centralised') });
    const aucs = perSite((s) => evaluate(central.model, s.test).auc);
    central.model.dispose();
    return { kind, aucs };
  }
  const aucs: SiteAucs = {};
  for (const s of sets) {
    info(`simulate: training ${s.name}'s student alone (${s.train.n} images)`);
    const { model } = await trainClassifier({ train: s.train, softLabels: s.soft, recipe: recipe(c, `${s.name} alone`) });
    aucs[s.name] = evaluate(model, s.test).auc;
    model.dispose();
  }
  const session = await openSession(teacher);
  const teacherAuc: SiteAucs = {};
  for (const s of sets) {
    const { logits } = await runTeacher(session, s.test, { batchSize: 32 });
    teacherAuc[s.name] = classifierAuc(softmaxRows(logits, 2), s.test.labels, 2);
  }
  await session.release();
  const teacherParams = (JSON.parse(readFileSync(`${teacher}.json`, 'utf8')) as { params: number }).params;
  return { kind, aucs, teacher: teacherAuc, teacherParams };
}

/**
 * Evaluates the federated student (`finalWeights`) at every site, saves it as a tfjs model in
 * `studentDir`, and puts it beside the baselines (trainBaseline's `local` and `centralised`).
 */
export async function compare(c: SimulateConfig, sites: string[], teacher: string, finalWeights: string, studentDir: string, baselines: readonly BaselineResult[]): Promise<Comparison> {
  const pre: PreprocessInput = { size: c.image.size, channels: 1, window: c.image.window, normalize: c.image.normalize };
  const fed = buildModel(c.student.arch, { inputSize: c.image.size, inputChannels: 1, numClasses: 2, widthMultiplier: c.student.width, seed: c.seed });
  setNamedWeights(fed, unpackTensors(new Uint8Array(readFileSync(finalWeights))));
  await saveModel(fed, studentDir);
  const federated: SiteAucs = {};
  for (const s of sites) federated[path.basename(s)] = evaluate(fed, (await loadSitePart(s, 'test', pre))!).auc;
  const studentParams = countParams(fed).total;
  fed.dispose();
  const of = (kind: BaselineKind): BaselineResult => {
    const b = baselines.find((x) => x.kind === kind);
    if (!b) throw new Error(`the ${kind} baseline is missing`);
    return b;
  };
  const local = of('local');
  return {
    sites: sites.map((s) => path.basename(s)),
    federated,
    local: local.aucs,
    centralised: of('centralised').aucs,
    teacher: local.teacher ?? {},
    params: { student: studentParams, teacher: local.teacherParams ?? 0 },
  };
}
