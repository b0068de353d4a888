/**
 * The student every run starts from. With a public collection for the teacher
 * (`teacher.publicImages`), the coordinator first distils the student from the teacher on that
 * public data, which it may hold, and the federation and both baselines start from these
 * weights: pre-training before federated learning (Nguyen et al. 2023, "Where to begin? On the
 * impact of pre-training and initialization in federated learning"). From random weights this
 * small student sits near chance for a long, seed-dependent number of rounds on the hospitals'
 * few images before it finds the nodules (docs/FIGURES.md, session 6).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { configHash, writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { packTensors } from '../../core/tensors.ts';
import { getNamedWeights } from '../../models/index.ts';
import { evaluate } from '../../train/evaluate.ts';
import { trainClassifier } from '../../train/recipes.ts';
import { pool } from '../../train/split.ts';
import { loadSites } from './baselines.ts';
import type { SimulateConfig } from './config.ts';
import { teacherSites } from './steps.ts';

/** Where the pre-trained student for this config and teacher lives (a weights file under `work`). */
export function pretrainedFile(c: SimulateConfig, teacher: string): string {
  const key = configHash({ s: c.student, i: c.image, teacher: path.basename(teacher), publicImages: c.teacher.publicImages, seed: c.seed });
  return path.join(c.work, `student-init-${key.slice(0, 10)}.fkw`);
}

/**
 * The pre-trained initial student's weights file, trained now unless cached; undefined when
 * the run starts from random weights (no public collection, or `student.pretrainEpochs` 0).
 * Logs the pre-trained student's AUC at each hospital, what the consortium has before federating.
 */
export async function ensurePretrainedStudent(c: SimulateConfig, sites: string[], teacher: string): Promise<string | undefined> {
  if (c.teacher.publicImages === 0 || c.student.pretrainEpochs === 0) return undefined;
  const file = pretrainedFile(c, teacher);
  if (existsSync(file)) {
    info(`simulate: reusing the pre-trained student ${file}`);
    return file;
  }
  const pub = await loadSites(c, await teacherSites(c, sites), teacher);
  const train = pool(pub.map((s) => s.train));
  const soft = new Float32Array(pub.reduce((n, s) => n + s.soft.length, 0));
  pub.reduce((off, s) => (soft.set(s.soft, off), off + s.soft.length), 0);
  info(`simulate: pre-training the student on the public collection (${train.n} images, ${c.student.pretrainEpochs} epochs)`);
  const recipe = { arch: c.student.arch, widthMultiplier: c.student.width, epochs: c.student.pretrainEpochs, batchSize: c.student.batchSize, lr: c.student.lr, seed: c.seed, label: 'pre-training' };
  const { model } = await trainClassifier({ train, softLabels: soft, recipe });
  const hospitals = await loadSites(c, sites, teacher);
  info(`simulate: the pre-trained student's test AUC: ${hospitals.map((s) => `${s.name} ${evaluate(model, s.test).auc.toFixed(3)}`).join(', ')}`);
  await writeFileAtomic(file, packTensors(getNamedWeights(model)));
  model.dispose();
  return file;
}
