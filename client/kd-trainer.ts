import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { NamedTensor } from '../core/tensors.ts';
import type { AugmentConfig, PreprocessInput } from '../data/index.ts';
import { softLabels } from '../distill/soft-labels.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel } from '../models/index.ts';
import { calibrateOnSite, type CalibrateOutput } from './calibration.ts';
import { setNamedWeights } from '../models/weights.ts';
import type { RoundConfig } from '../proto/types.ts';
import { createMaskHook } from '../prune/apply-masks.ts';
import { configMasks } from '../prune/wire.ts';
import { evaluate } from '../train/evaluate.ts';
import { trainLocal } from '../train/loop.ts';
import { DEFAULT_RECIPE } from '../train/recipes.ts';
import { loadSitePart, sitePart, trainingSize } from '../train/site-data.ts';
import type { ImageSet } from '../train/types.ts';
import type { EvaluateOutput, FitOutput, SiteTrainer } from './site-trainer.ts';

/**
 * The student and its local training as the round config describes them (the coordinator's
 * `training` section passes these keys to every site, so all sites build the model the
 * global weights belong to, and preprocess as the teacher did).
 */
export interface StudentSpec {
  arch: string;
  imageSize: number;
  numClasses: number;
  widthMultiplier: number;
  batchSize: number;
  lr: number;
  seed: number;
  window: 'file' | 'auto' | 'minmax' | 'lung' | 'mediastinum' | 'bone';
  normalize: 'unit' | 'zscore';
  /** KD temperature and weight of the soft term. */
  temperature: number;
  alpha: number;
  /**
   * The local learning rate across rounds: 'constant' (`lr` every round, the default), or
   * 'cosine' from `lr` at round 1 down to `lr`·`minLrFactor` at round `totalRounds` (the
   * schedule the single-site and centralised baselines follow over their epochs).
   */
  lrDecay: 'constant' | 'cosine';
  totalRounds: number;
  minLrFactor: number;
  /** The imitated lower-grade detector in the local augmentation (AugmentConfig.degrade): its probability (0: off), largest blur σ in pixels and largest extra noise σ as a fraction of the range. */
  degradeP: number;
  degradeBlur: number;
  degradeNoise: number;
}

/** The local training's augmentation: the recipe's, with the spec's imitated lower-grade detector when its probability is above 0. */
export function siteAugment(spec: Pick<StudentSpec, 'degradeP' | 'degradeBlur' | 'degradeNoise'>): AugmentConfig {
  const base = DEFAULT_RECIPE.augment;
  return spec.degradeP > 0 ? { ...base, degrade: { p: spec.degradeP, blur: spec.degradeBlur, noise: spec.degradeNoise } } : base;
}

/** The local learning rate of round `round` (1-based) under the spec's decay across rounds. */
export function roundLearningRate(spec: Pick<StudentSpec, 'lr' | 'lrDecay' | 'totalRounds' | 'minLrFactor'>, round: number): number {
  if (spec.lrDecay !== 'cosine' && spec.lrDecay !== 'constant') throw new UserError(`round config: lrDecay must be constant or cosine, not ${String(spec.lrDecay)}`);
  if (spec.lrDecay === 'constant' || spec.totalRounds <= 1) return spec.lr;
  const t = Math.min(1, Math.max(0, (round - 1) / (spec.totalRounds - 1)));
  const min = spec.lr * spec.minLrFactor;
  return min + ((spec.lr - min) * (1 + Math.cos(Math.PI * t))) / 2;
}

/** Defaults of the student spec, for keys the round config (and the teacher's sidecar) leave out; as `fedkd train`'s. */
export const DEFAULT_STUDENT: StudentSpec = {
  arch: 'mobile-s',
  imageSize: 64,
  numClasses: 2,
  widthMultiplier: 1,
  batchSize: DEFAULT_RECIPE.batchSize,
  lr: DEFAULT_RECIPE.lr,
  seed: 0,
  window: 'file',
  normalize: 'zscore',
  temperature: 4,
  alpha: 0.7,
  lrDecay: 'constant',
  totalRounds: 0,
  minLrFactor: 0.1,
  degradeP: 0,
  degradeBlur: 0,
  degradeNoise: 0,
};

/** The teacher's preprocessing from its sidecar (`<teacher>.json`, written by `fedkd teacher train`), if any. */
export function teacherDefaults(teacher: string): Partial<StudentSpec> {
  const sidecar = `${teacher}.json`;
  if (!existsSync(sidecar)) return {};
  const p = (JSON.parse(readFileSync(sidecar, 'utf8')) as { preprocess?: { size?: number; window?: StudentSpec['window']; normalize?: StudentSpec['normalize'] } }).preprocess;
  if (!p) return {};
  return Object.fromEntries(Object.entries({ imageSize: p.size, window: p.window, normalize: p.normalize }).filter(([, v]) => v !== undefined));
}

/** The student spec: round config keys over the teacher's preprocessing over the defaults (unknown keys ignored). */
export function studentSpec(c: RoundConfig | null, base: Partial<StudentSpec> = {}): StudentSpec {
  const d = { ...DEFAULT_STUDENT, ...base };
  const out = { ...d };
  for (const k of Object.keys(d) as (keyof StudentSpec)[]) if (c && c[k] !== undefined) (out as Record<string, unknown>)[k] = c[k];
  return out;
}

interface SiteData {
  train: ImageSet;
  test: ImageSet;
  soft: Float32Array;
}

/**
 * The hospital's trainer: distils the student from the teacher's soft labels on the
 * site's own `train/` images (train/'s trainLocal, FedProx μ from the round config) and
 * evaluates on its own `test/` split. Images and soft labels stay in this process.
 */
export class KdTrainer implements SiteTrainer {
  private data: { key: string; value: Promise<SiteData> } | null = null;
  private model: { key: string; model: tf.LayersModel } | null = null;

  constructor(
    private readonly siteDir: string,
    private readonly teacher: string,
  ) {}

  private spec(c: RoundConfig | null): StudentSpec {
    return studentSpec(c, teacherDefaults(this.teacher));
  }

  private load(spec: StudentSpec): Promise<SiteData> {
    const pre: PreprocessInput = { size: spec.imageSize, channels: 1, window: spec.window, normalize: spec.normalize };
    const key = JSON.stringify(pre);
    if (this.data?.key !== key) {
      const value = (async () => {
        await initBackend();
        const train = (await loadSitePart(this.siteDir, 'train', pre))!;
        const test = await loadSitePart(this.siteDir, 'test', pre);
        if (!test) throw new UserError(`${this.siteDir} has no held-out split (expected ${path.join(this.siteDir, 'test', 'labels.csv')})`);
        const soft = await softLabels(this.teacher, train, { cacheDir: path.join(sitePart(this.siteDir, 'train')!, '.fedkd-cache'), preprocess: pre });
        if (soft.numClasses !== spec.numClasses) throw new UserError(`teacher ${this.teacher} has ${soft.numClasses} classes, the student ${spec.numClasses}`);
        return { train, test, soft: soft.logits };
      })();
      this.data = { key, value };
    }
    return this.data.value;
  }

  private studentFor(spec: StudentSpec, global: readonly NamedTensor[]): tf.LayersModel {
    const key = `${spec.arch}/${spec.imageSize}/${spec.numClasses}/${spec.widthMultiplier}`;
    if (this.model?.key !== key) {
      this.model?.model.dispose();
      this.model = { key, model: buildModel(spec.arch, { inputSize: spec.imageSize, inputChannels: 1, numClasses: spec.numClasses, widthMultiplier: spec.widthMultiplier, seed: spec.seed }) };
    }
    setNamedWeights(this.model.model, global);
    return this.model.model;
  }

  /** Training images, announced at registration: the rows of train/labels.csv (no decoding; the preprocessing comes with the first round). */
  async datasetSize(): Promise<number> {
    return trainingSize(this.siteDir);
  }

  /** The trainer and the tfjs backend. */
  async capabilities(): Promise<Record<string, string>> {
    const b = await initBackend();
    return { trainer: 'kd', backend: b.name };
  }

  /** E epochs of distillation from the global weights. */
  async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    const spec = this.spec(config);
    const d = await this.load(spec);
    const model = this.studentFor(spec, global);
    // federated pruning: every site trains the same masked architecture (issue 6 §3)
    const masks = configMasks(config);
    const maskHook = masks ? createMaskHook(model, masks) : undefined;
    const r = await trainLocal({
      model,
      maskHook,
      train: d.train,
      softLabels: d.soft,
      initialWeights: global,
      proximalMu: config.proximalMu || undefined,
      config: {
        epochs: config.localEpochs,
        batchSize: spec.batchSize,
        optimizer: DEFAULT_RECIPE.optimizer,
        // constant within a round, as in FedAvg (McMahan et al. 2017), and across rounds unless
        // the spec decays it (roundLearningRate): a cosine restarted every
        // round spends each round's later steps at a tenth of the rate, and the student stayed
        // near chance for the first three rounds (docs/FIGURES.md, federation, session 3)
        schedule: { lr: roundLearningRate(spec, config.round), kind: 'constant', warmupSteps: 0 },
        seed: spec.seed * 1000 + config.round,
        augment: siteAugment(spec),
        kd: { temperature: spec.temperature, alpha: spec.alpha },
        label: `round ${config.round}`,
      },
    }).finally(() => maskHook?.dispose());
    return { weights: r.weights, numExamples: r.numExamples, metrics: { loss: r.metrics.trainLoss } };
  }

  /** Federated calibration: statistics of the global student on this site's training images (client/calibration.ts). */
  async calibrate(global: NamedTensor[], config: RoundConfig | null): Promise<CalibrateOutput> {
    const spec = this.spec(config);
    const { train } = await this.load(spec);
    return calibrateOnSite(this.studentFor(spec, global), train, config);
  }

  /** AUC, accuracy and loss of the global weights on the site's test split. */
  async evaluate(global: NamedTensor[], config: RoundConfig | null): Promise<EvaluateOutput> {
    const spec = this.spec(config);
    const d = await this.load(spec);
    const e = evaluate(this.studentFor(spec, global), d.test);
    return { numExamples: e.n, metrics: { auc: e.auc, accuracy: e.accuracy, loss: e.loss } };
  }
}

/** The trainer `fedkd client` runs by default. */
export function kdTrainerFromCli(siteDir: string, teacher: string): SiteTrainer {
  return new KdTrainer(siteDir, teacher);
}
