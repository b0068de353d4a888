import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { info } from '../../core/log.ts';
import { softLabels } from '../../distill/soft-labels.ts';
import { runTeacher } from '../../distill/teacher.ts';
import { countParams, saveModel } from '../../models/index.ts';
import { shrinkModel, type PruneMasks } from '../../prune/index.ts';
import { openSession } from '../../runtime/session.ts';
import { softmaxRows } from '../../train/classification.ts';
import { evaluate } from '../../train/evaluate.ts';
import { classifierAuc } from '../../train/metrics.ts';
import { trainClassifier, type ClassifierPruning } from '../../train/recipes.ts';
import { loadSitePart, sitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import type { ImageSet } from '../../train/types.ts';
import type { SimulateConfig } from './config.ts';
import { coordinatorPruning, finalMasks } from './pruning.ts';
import { buildStudent, imagePreprocess, readWeights, studentRecipe, type SiteTest } from './student.ts';

/** Test AUC at each site (site name → AUC), for one model. */
export type SiteAucs = Record<string, number>;

/** The comparison the report's summary table shows. */
export interface Comparison {
  sites: string[];
  federated: SiteAucs;
  /** Each site's student trained on that site alone, tested on that site. */
  local: SiteAucs;
  /** One student on the pooled data, pruned on the federation's schedule when it prunes. */
  centralised: SiteAucs;
  /** When the federation prunes: the unpruned student on the pooled data, what pruning costs. */
  centralisedUnpruned?: SiteAucs;
  teacher: SiteAucs;
  /** The student pre-trained on the teacher's public collection, where every run started (cli/simulate/pretrain.ts): what the hospitals had before federating. */
  pretrained?: SiteAucs;
  /** Positives and negatives in each site's test split (for the AUCs' standard errors). */
  testCounts?: Record<string, { pos: number; neg: number }>;
  /** Parameters of each column's model (pruned students counted after shrinking; `local` lists each site's). */
  params: { federated: number; local: number[]; centralised: number; centralisedUnpruned?: number; teacher: number; pretrained?: number };
}

/** One site's data as the baselines train on it. */
export interface SiteSets {
  name: string;
  train: ImageSet;
  test: ImageSet;
  soft: Float32Array;
}

/** Each site's training and test images and the teacher's soft labels for its training images (cached). */
export async function loadSites(c: SimulateConfig, sites: string[], teacher: string): Promise<SiteSets[]> {
  const pre = imagePreprocess(c);
  const out: SiteSets[] = [];
  for (const s of sites) {
    const train = (await loadSitePart(s, 'train', pre))!;
    const test = (await loadSitePart(s, 'test', pre))!;
    const soft = await softLabels(teacher, train, { cacheDir: path.join(sitePart(s, 'train')!, '.fedkd-cache'), preprocess: pre });
    out.push({ name: path.basename(s), train, test, soft: soft.logits });
  }
  return out;
}

/**
 * One baseline: every site's student alone, or the centralised student on the pooled data,
 * both pruned on the federation's schedule when it prunes; or, then, the unpruned centralised one.
 */
export const BASELINE_KINDS = ['local', 'centralised', 'centralised-unpruned'] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];

/** What the report's column and the baseline's process log call each baseline. */
export const BASELINE_LABELS: Record<BaselineKind, string> = { local: 'site alone', centralised: 'centralised', 'centralised-unpruned': 'centralised, unpruned' };

/** The baselines a run trains: the unpruned centralised one only when the federation prunes and `baselines.unpruned` asks for it. */
export function baselineKinds(c: SimulateConfig): BaselineKind[] {
  return coordinatorPruning(c).pruning && c.baselines.unpruned ? [...BASELINE_KINDS] : ['local', 'centralised'];
}

/**
 * The federation's pruning schedule in baseline epochs: pruning after round r of R becomes
 * pruning after epoch round(r·epochs/R), same ratio, criterion and steps.
 */
export function baselinePruning(c: SimulateConfig): ClassifierPruning | undefined {
  const { pruning } = coordinatorPruning(c);
  if (!pruning) return undefined;
  return { settings: pruning, atEpochs: pruning.atRounds.map((r) => Math.round((r * c.baselines.epochs) / c.federated.rounds)) };
}

/** Parameters of a trained student, after shrinking away its pruned channels. */
async function studentParams(model: tf.LayersModel, masks: PruneMasks | undefined): Promise<number> {
  if (!masks) return countParams(model).total;
  const small = await shrinkModel(model, masks);
  const n = countParams(small).total;
  small.dispose();
  return n;
}

/** Test AUC per site of one baseline (and the teacher's, which the `local` run also scores). */
export interface BaselineResult {
  kind: BaselineKind;
  aucs: SiteAucs;
  /** Parameters of each student trained (one per site for `local`). */
  params: number[];
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
export async function trainBaseline(c: SimulateConfig, sites: string[], teacher: string, kind: BaselineKind, initial?: string): Promise<BaselineResult> {
  const sets = await loadSites(c, sites, teacher);
  const initialWeights = initial ? readWeights(initial) : undefined;
  const perSite = (f: (s: SiteSets) => number): SiteAucs => Object.fromEntries(sets.map((s) => [s.name, f(s)]));
  const pruning = kind === 'centralised-unpruned' ? undefined : baselinePruning(c);
  if (kind !== 'local') {
    info(`simulate: training the ${pruning ? 'pruned ' : ''}${BASELINE_LABELS[kind]} student on the pooled data`);
    const pooledSoft = new Float32Array(sets.reduce((n, s) => n + s.soft.length, 0));
    sets.reduce((off, s) => (pooledSoft.set(s.soft, off), off + s.soft.length), 0);
    const central = await trainClassifier({ train: pool(sets.map((s) => s.train)), softLabels: pooledSoft, recipe: studentRecipe(c, c.baselines.epochs, BASELINE_LABELS[kind], true), pruning, initialWeights });
    const aucs = perSite((s) => evaluate(central.model, s.test).auc);
    const params = [await studentParams(central.model, central.masks)];
    central.model.dispose();
    return { kind, aucs, params };
  }
  const aucs: SiteAucs = {};
  const params: number[] = [];
  for (const s of sets) {
    info(`simulate: training ${s.name}'s student alone (${s.train.n} images${pruning ? ', pruned' : ''})`);
    const { model, masks } = await trainClassifier({ train: s.train, softLabels: s.soft, recipe: studentRecipe(c, c.baselines.epochs, `${s.name} alone`, true), pruning, initialWeights });
    aucs[s.name] = evaluate(model, s.test).auc;
    params.push(await studentParams(model, masks));
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
  return { kind, aucs, params, teacher: teacherAuc, teacherParams };
}

/** The federated (and pre-trained) student's side of the comparison: everything but the baselines. */
export type FederatedEvaluation = Pick<Comparison, 'sites' | 'federated' | 'testCounts'> & { pretrained?: SiteAucs; params: { federated: number; pretrained?: number } };

/**
 * Evaluates the federated student (`finalWeights`) and the pre-trained one at every site and
 * saves the federated one as a tfjs model in `studentDir`. A pruned student's parameters are
 * counted after shrinking, with the run's final masks. Needs nothing from the baselines, so it
 * runs while they finish.
 */
export async function evaluateFederated(c: SimulateConfig, tests: readonly SiteTest[], finalWeights: string, studentDir: string, pretrainedWeights?: string): Promise<FederatedEvaluation> {
  const fed = buildStudent(c, finalWeights);
  await saveModel(fed, studentDir);
  const init = pretrainedWeights ? buildStudent(c, pretrainedWeights) : undefined;
  const federated: SiteAucs = {};
  const pretrained: SiteAucs = {};
  const testCounts: Record<string, { pos: number; neg: number }> = {};
  for (const { name, set } of tests) {
    federated[name] = evaluate(fed, set).auc;
    if (init) pretrained[name] = evaluate(init, set).auc;
    const pos = set.labels.reduce((n, l) => n + (l === 1 ? 1 : 0), 0);
    testCounts[name] = { pos, neg: set.n - pos };
  }
  const fedParams = await studentParams(fed, finalMasks(path.dirname(finalWeights)));
  const initParams = init ? await studentParams(init, undefined) : undefined;
  fed.dispose();
  init?.dispose();
  return {
    sites: tests.map((t) => t.name),
    federated,
    testCounts,
    ...(init ? { pretrained } : {}),
    params: { federated: fedParams, ...(initParams !== undefined ? { pretrained: initParams } : {}) },
  };
}

/** The federated evaluation beside the baselines (trainBaseline's results). */
export function compare(fed: FederatedEvaluation, baselines: readonly BaselineResult[]): Comparison {
  const of = (kind: BaselineKind): BaselineResult => {
    const b = baselines.find((x) => x.kind === kind);
    if (!b) throw new Error(`the ${kind} baseline is missing`);
    return b;
  };
  const local = of('local');
  const central = of('centralised');
  const unpruned = baselines.find((x) => x.kind === 'centralised-unpruned');
  return {
    sites: fed.sites,
    federated: fed.federated,
    testCounts: fed.testCounts,
    local: local.aucs,
    centralised: central.aucs,
    ...(unpruned ? { centralisedUnpruned: unpruned.aucs } : {}),
    teacher: local.teacher ?? {},
    ...(fed.pretrained ? { pretrained: fed.pretrained } : {}),
    params: {
      federated: fed.params.federated,
      local: local.params,
      centralised: central.params[0],
      ...(unpruned ? { centralisedUnpruned: unpruned.params[0] } : {}),
      teacher: local.teacherParams ?? 0,
      ...(fed.params.pretrained !== undefined ? { pretrained: fed.params.pretrained } : {}),
    },
  };
}
