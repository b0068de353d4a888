/**
 * The student every run starts from. With a public collection (`teacher.publicImages`), the
 * coordinator first trains the student on that public, labelled data, which it may hold, and
 * the federation and both baselines start from these weights: pre-training before federated
 * learning (Nguyen et al. 2023, "Where to begin? On the impact of pre-training and
 * initialization in federated learning"). From random weights this small student sat near
 * chance for a long, seed-dependent number of rounds on the hospitals' few images before it
 * found the nodules (docs/FIGURES.md, session 6). It trains on the labels, not the teacher's
 * soft labels, so it needs nothing from the teacher and trains beside it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { configHash, writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { packTensors } from '../../core/tensors.ts';
import { getNamedWeights } from '../../models/index.ts';
import { trainClassifier, type ClassifierRecipe } from '../../train/recipes.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import type { SimulateConfig } from './config.ts';
import { imagePreprocess, studentRecipe } from './student.ts';

/** Pre-training's recipe: the student's, on hard labels. */
function pretrainRecipe(c: SimulateConfig): ClassifierRecipe {
  return studentRecipe(c, c.student.pretrainEpochs, 'pre-training', false);
}

/**
 * Where the pre-trained student for this config lives (a weights file under `work`), keyed on
 * what pre-training uses: its recipe, the images and the public collection's folders.
 */
export function pretrainedFile(c: SimulateConfig, publicSites: readonly string[]): string {
  const rel = publicSites.map((s) => path.relative(c.work, s).split(path.sep).join('/'));
  const key = configHash({ recipe: pretrainRecipe(c), i: c.image, sites: rel });
  return path.join(c.work, `student-init-${key.slice(0, 10)}.fkw`);
}

/**
 * The pre-trained initial student's weights file, trained now on the public `sites`' training
 * images unless cached; undefined when the run starts from random weights (no public
 * collection, or `student.pretrainEpochs` 0).
 */
export async function ensurePretrainedStudent(c: SimulateConfig, sites: string[]): Promise<string | undefined> {
  if (c.teacher.publicImages === 0 || c.student.pretrainEpochs === 0) return undefined;
  const file = pretrainedFile(c, sites);
  if (existsSync(file)) {
    info(`simulate: reusing the pre-trained student ${file}`);
    return file;
  }
  const pre = imagePreprocess(c);
  const train = pool(await Promise.all(sites.map(async (s) => (await loadSitePart(s, 'train', pre))!)));
  info(`simulate: pre-training the student on the public collection (${train.n} images, ${c.student.pretrainEpochs} epochs)`);
  const { model, result } = await trainClassifier({ train, recipe: pretrainRecipe(c) });
  info(`simulate: pre-trained student: validation AUC ${result.metrics.val?.auc?.toFixed(3) ?? 'n/a'} (epoch ${result.metrics.bestEpoch})`);
  await writeFileAtomic(file, packTensors(getNamedWeights(model)));
  model.dispose();
  return file;
}
