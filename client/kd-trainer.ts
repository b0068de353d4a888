import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../core/errors.ts';
import type { NamedTensor } from '../core/tensors.ts';
import { loadDataset } from '../data/dataset/load.ts';
import { softLabels } from '../distill/soft-labels.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel } from '../models/index.ts';
import { setNamedWeights } from '../models/weights.ts';
import type { RoundConfig } from '../proto/types.ts';
import { evaluate } from '../train/evaluate.ts';
import { trainLocal } from '../train/loop.ts';
import { DEFAULT_RECIPE } from '../train/recipes.ts';
import type { ImageSet } from '../train/types.ts';
import type { EvaluateOutput, FitOutput, SiteTrainer } from './site-trainer.ts';

/**
 * The student the round config describes (the coordinator's `training` section passes
 * these keys to every site, so all sites build the model the global weights belong to).
 */
export interface StudentSpec {
  arch: string;
  imageSize: number;
  channels: 1 | 3;
  numClasses: number;
  widthMultiplier: number;
  batchSize: number;
  lr: number;
  seed: number;
}

/** Defaults of the student spec, for keys the round config leaves out. */
export const DEFAULT_STUDENT: StudentSpec = { arch: 'mobile-s', imageSize: 64, channels: 1, numClasses: 2, widthMultiplier: 1, batchSize: DEFAULT_RECIPE.batchSize, lr: DEFAULT_RECIPE.lr, seed: 0 };

/** The student spec from a round config (unknown keys ignored, missing ones defaulted). */
export function studentSpec(c: RoundConfig | null): StudentSpec {
  const pick = <K extends keyof StudentSpec>(k: K): StudentSpec[K] => (c && c[k] !== undefined ? (c[k] as StudentSpec[K]) : DEFAULT_STUDENT[k]);
  return { arch: pick('arch'), imageSize: pick('imageSize'), channels: pick('channels'), numClasses: pick('numClasses'), widthMultiplier: pick('widthMultiplier'), batchSize: pick('batchSize'), lr: pick('lr'), seed: pick('seed') };
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

  private load(spec: StudentSpec): Promise<SiteData> {
    const key = `${spec.imageSize}/${spec.channels}`;
    if (this.data?.key !== key) {
      const value = (async () => {
        await initBackend();
        const pre = { size: spec.imageSize, channels: spec.channels };
        const train = await loadDataset(path.join(this.siteDir, 'train'), pre);
        const test = await loadDataset(path.join(this.siteDir, 'test'), pre);
        const soft = await softLabels(this.teacher, train, { cacheDir: path.join(this.siteDir, 'train', '.fedkd-cache'), preprocess: pre });
        if (soft.numClasses !== spec.numClasses) throw new UserError(`teacher ${this.teacher} has ${soft.numClasses} classes, the student ${spec.numClasses}`);
        return { train, test, soft: soft.logits };
      })();
      this.data = { key, value };
    }
    return this.data.value;
  }

  private studentFor(spec: StudentSpec, global: readonly NamedTensor[]): tf.LayersModel {
    const key = `${spec.arch}/${spec.imageSize}/${spec.channels}/${spec.numClasses}/${spec.widthMultiplier}`;
    if (this.model?.key !== key) {
      this.model?.model.dispose();
      this.model = { key, model: buildModel(spec.arch, { inputSize: spec.imageSize, inputChannels: spec.channels, numClasses: spec.numClasses, widthMultiplier: spec.widthMultiplier, seed: spec.seed }) };
    }
    setNamedWeights(this.model.model, global);
    return this.model.model;
  }

  /** Training images, announced at registration (loads the data with default preprocessing). */
  async datasetSize(): Promise<number> {
    return (await this.load(DEFAULT_STUDENT)).train.n;
  }

  /** The trainer and the tfjs backend. */
  async capabilities(): Promise<Record<string, string>> {
    const b = await initBackend();
    return { trainer: 'kd', backend: b.name };
  }

  /** E epochs of distillation from the global weights. */
  async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    const spec = studentSpec(config);
    const d = await this.load(spec);
    const model = this.studentFor(spec, global);
    const r = await trainLocal({
      model,
      train: d.train,
      softLabels: d.soft,
      initialWeights: global,
      proximalMu: config.proximalMu || undefined,
      config: {
        epochs: config.localEpochs,
        batchSize: spec.batchSize,
        optimizer: DEFAULT_RECIPE.optimizer,
        schedule: { lr: spec.lr, kind: 'cosine', warmupSteps: 0, minLr: spec.lr / 10 },
        seed: spec.seed * 1000 + config.round,
        augment: DEFAULT_RECIPE.augment,
        label: `round ${config.round}`,
      },
    });
    return { weights: r.weights, numExamples: r.numExamples, metrics: { loss: r.metrics.trainLoss } };
  }

  /** AUC, accuracy and loss of the global weights on the site's test split. */
  async evaluate(global: NamedTensor[], config: RoundConfig | null): Promise<EvaluateOutput> {
    const spec = studentSpec(config);
    const d = await this.load(spec);
    const e = evaluate(this.studentFor(spec, global), d.test);
    return { numExamples: e.n, metrics: { auc: e.auc, accuracy: e.accuracy, loss: e.loss } };
  }
}

/** The trainer `fedkd client` runs by default. */
export function kdTrainerFromCli(siteDir: string, teacher: string): SiteTrainer {
  return new KdTrainer(siteDir, teacher);
}
