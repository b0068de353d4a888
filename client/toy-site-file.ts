import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../core/errors.ts';
import { ToyTrainer } from './toy-trainer.ts';

/** File name of a toy site's description inside its site folder. */
export const TOY_SITE_FILE = 'toy-site.json';

const toySiteSchema = z
  .object({
    targets: z.array(z.array(z.number())).min(1),
    numExamples: z.number().int().positive(),
    lr: z.number().gt(0).max(1),
    epochMs: z.number().min(0).optional(),
  })
  .strict();

/** A ToyTrainer from `<siteDir>/toy-site.json` ({targets, numExamples, lr, epochMs?}): a dry run of the plumbing without images. */
export function loadToyTrainer(siteDir: string): ToyTrainer {
  const file = path.join(siteDir, TOY_SITE_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = toySiteSchema.safeParse(raw);
  if (!r.success) throw new UserError(`${file}: ${r.error.issues[0].path.join('.') || '(top level)'}: ${r.error.issues[0].message}`);
  return new ToyTrainer({ ...r.data, targets: r.data.targets.map((t) => Float32Array.from(t)) });
}
