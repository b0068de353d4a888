/** The simulation's student and images as every step sees them: one preprocessing, one way to build the student from a weights file. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { type NamedTensor, unpackTensors } from '../../core/tensors.ts';
import { DEFAULT_AUGMENT, type PreprocessInput } from '../../data/index.ts';
import { buildModel, setNamedWeights } from '../../models/index.ts';
import type { ClassifierRecipe } from '../../train/recipes.ts';
import { loadSitePart } from '../../train/site-data.ts';
import type { ImageSet } from '../../train/types.ts';
import type { SimulateConfig } from './config.ts';

/** The images' preprocessing for the teacher, the students and their evaluation. */
export function imagePreprocess(c: SimulateConfig): PreprocessInput {
  return { size: c.image.size, channels: 1, window: c.image.window, normalize: c.image.normalize };
}

/** One site's test split, as the report's evaluations take it. */
export interface SiteTest {
  name: string;
  set: ImageSet;
}

/** Every site's test split, preprocessed as the students see it: loaded once for all of the report's evaluations. */
export async function loadTestSets(c: SimulateConfig, sites: readonly string[]): Promise<SiteTest[]> {
  const pre = imagePreprocess(c);
  return Promise.all(sites.map(async (s) => ({ name: path.basename(s), set: (await loadSitePart(s, 'test', pre))! })));
}

/** The weights in a `.fkw` file (core/tensors.ts packTensors). */
export function readWeights(file: string): NamedTensor[] {
  return unpackTensors(new Uint8Array(readFileSync(file)));
}

/** The config's student: the seed's random weights, or those in `weightsFile`. */
export function buildStudent(c: SimulateConfig, weightsFile?: string): tf.LayersModel {
  const model = buildModel(c.student.arch, { inputSize: c.image.size, inputChannels: 1, numClasses: 2, widthMultiplier: c.student.width, seed: c.seed });
  if (weightsFile) setNamedWeights(model, readWeights(weightsFile));
  return model;
}

/**
 * The recipe (train/recipes.ts) of the simulation's standalone students: the student's
 * architecture and training settings for `epochs`, distilled with its temperature and α when
 * `distil` (the baselines), on hard labels otherwise (the pre-training).
 */
export function studentRecipe(c: SimulateConfig, epochs: number, label: string, distil: boolean): ClassifierRecipe {
  return {
    arch: c.student.arch,
    widthMultiplier: c.student.width,
    epochs,
    batchSize: c.student.batchSize,
    lr: c.student.lr,
    ...(distil ? { kd: { temperature: c.student.temperature, alpha: c.student.alpha } } : {}),
    seed: c.seed,
    label,
    ...(c.student.degrade ? { augment: { ...DEFAULT_AUGMENT, degrade: c.student.degrade } } : {}),
  };
}
