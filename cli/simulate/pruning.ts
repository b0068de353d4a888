import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { RoundSummary } from '../../coordinator/rounds.ts';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { loadModel, saveModel } from '../../models/index.ts';
import { parseMasks, pruneReport, pruneSettingsSchema, type PruneMasks, type PruneReport, type PruneSettings } from '../../prune/index.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { classificationMetrics, predictLogits } from '../../train/classification.ts';
import { EVAL_BATCH_SIZE } from '../../train/evaluate.ts';
import { onnxLatencyMs } from '../commands/prune.ts';
import type { SimulateConfig } from './config.ts';
import { defaultPruningRounds } from './pruning-config.ts';
import { buildStudent, type SiteTest } from './student.ts';

/** The coordinator config's `pruning` block for a simulate config, or nothing when it does not prune. */
export function coordinatorPruning(c: SimulateConfig): { pruning?: PruneSettings } {
  const p = c.pruning;
  if (p === false) return {};
  const atRounds = p.atRounds ?? defaultPruningRounds(c.federated.rounds);
  if (!atRounds.length) return {};
  const late = atRounds.find((r) => r > c.federated.rounds);
  if (late !== undefined) throw new UserError(`pruning.atRounds: round ${late} is after the last round (${c.federated.rounds})`);
  return { pruning: pruneSettingsSchema.parse({ ...p, atRounds }) };
}

/** The masks of a pruning run's final student, from the coordinator's state folder; undefined when it did not prune. */
export function finalMasks(stateDir: string): PruneMasks | undefined {
  const file = path.join(stateDir, 'final-masks.json');
  return existsSync(file) ? parseMasks(readFileSync(file, 'utf8')) : undefined;
}

/** What simulate reports about federated pruning. */
export interface PruningSummary {
  settings: PruneSettings;
  /** The model before pruning: the global model of this round (0: the initial one), the last one unpruned. */
  beforeRound: number;
  report: PruneReport;
  /** Test AUC per site and pooled, before pruning and of the final shrunk student after fine-tuning. */
  auc: { before: Record<string, number>; after: Record<string, number> };
  /** Per round: bytes of the model each site fetched and mean bytes each site pushed. */
  wire: { round: number; modelBytes: number | null; meanPushBytes: number | null; channels: { kept: number; total: number } | null }[];
}

const f4 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));

/** The Markdown table of the pruning summary. */
export function pruningTable(p: PruningSummary): string {
  const r = p.report;
  const pct = (b: number, a: number): string => `${(100 * (1 - a / b)).toFixed(1)}%`;
  const rows = ['| figure | before | after | reduction |', '| --- | --- | --- | --- |'];
  rows.push(`| parameters | ${r.before.params} | ${r.after.params} | ${pct(r.before.params, r.after.params)} |`);
  rows.push(`| MACs | ${r.before.macs} | ${r.after.macs} | ${pct(r.before.macs, r.after.macs)} |`);
  for (const [k, e] of Object.entries(r.extra)) rows.push(`| ${k} (${e.unit ?? ''}) | ${e.before?.toPrecision(4) ?? ''} | ${e.after?.toPrecision(4) ?? ''} | ${e.before && e.after !== undefined ? pct(e.before, e.after) : ''} |`);
  for (const s of Object.keys(p.auc.after)) rows.push(`| AUC ${s} | ${f4(p.auc.before[s])} | ${f4(p.auc.after[s])} | Δ ${f4(p.auc.after[s] - p.auc.before[s])} |`);
  const wire = ['| round | model bytes fetched | mean bytes pushed | channels kept after the round |', '| --- | --- | --- | --- |'];
  for (const w of p.wire) wire.push(`| ${w.round} | ${w.modelBytes ?? ''} | ${w.meanPushBytes ?? ''} | ${w.channels ? `${w.channels.kept} of ${w.channels.total}` : 'all'} |`);
  return `Before: round ${p.beforeRound}'s global model (the last unpruned); after: the final shrunk student.\n\n${rows.join('\n')}\n\n${wire.join('\n')}\n`;
}

/**
 * Each model's AUC at every site and on the sites pooled. One forward pass per image: the pooled
 * AUC ranks the sites' own logits together instead of predicting the pooled set again.
 */
function aucs(tests: readonly SiteTest[], models: tf.LayersModel[]): Record<string, number>[] {
  const labels = Int32Array.from(tests.flatMap((t) => Array.from(t.set.labels)));
  return models.map((m) => {
    const k = m.outputs[0].shape.at(-1) ?? 2;
    const logits = tests.map((t) => predictLogits(m, t.set, EVAL_BATCH_SIZE));
    const site = (i: number): number => classificationMetrics(logits[i], tests[i].set.labels, k).auc!;
    const pooled = new Float32Array(logits.reduce((n, l) => n + l.length, 0));
    logits.reduce((o, l) => (pooled.set(l, o), o + l.length), 0);
    return { ...Object.fromEntries(tests.map((t, i) => [t.name, site(i)])), pooled: classificationMetrics(pooled, labels, k).auc! };
  });
}

/**
 * After a pruning run: the last unpruned global model against the coordinator's shrunk final
 * student (parameters, MACs, ONNX bytes and FP32 latency, AUC per site), the per-round wire
 * bytes, the shrunk student saved as `studentDir` (tfjs) and `student.onnx` next to it.
 * Undefined when the run did not prune.
 */
export async function pruningSummary(c: SimulateConfig, tests: readonly SiteTest[], stateDir: string, rounds: readonly RoundSummary[], studentDir: string): Promise<PruningSummary | undefined> {
  const { pruning: settings } = coordinatorPruning(c);
  const masks = finalMasks(stateDir);
  if (!settings || !masks) return undefined;
  const beforeRound = Math.min(...settings.atRounds) - 1;
  const beforeSha = beforeRound > 0 ? rounds[beforeRound - 1].model : null;
  const beforeFile = beforeSha ? path.join(stateDir, 'checkpoints', `${beforeSha}.fkw`) : path.join(stateDir, '..', 'initial.fkw');
  const before = buildStudent(c, beforeFile);
  const after = await loadModel(path.join(stateDir, 'final-pruned'));
  const report = pruneReport(before, after, masks, settings);
  const onnx = exportOnnx(after);
  report.extra.onnxBytes = { before: exportOnnx(before).length, after: onnx.length, unit: 'bytes, FP32 ONNX' };
  info('simulate: timing the student before and after pruning (FP32 ONNX, batch 1)');
  report.extra.onnxLatencyMs = { before: await onnxLatencyMs(before), after: await onnxLatencyMs(after), unit: 'ms, median, batch 1, ORT 1 thread' };
  const [aucBefore, aucAfter] = aucs(tests, [before, after]);
  await saveModel(after, studentDir);
  await writeFileAtomic(path.join(path.dirname(studentDir), 'student.onnx'), onnx);
  before.dispose();
  after.dispose();
  const wire = rounds.map((r) => ({ round: r.round, modelBytes: r.modelBytes ?? null, meanPushBytes: Number.isFinite(r.train.meanPushBytes) ? r.train.meanPushBytes : null, channels: r.pruning?.masksRound ? { kept: r.pruning.keptChannels, total: r.pruning.totalChannels } : null }));
  return { settings, beforeRound, report, auc: { before: aucBefore, after: aucAfter }, wire };
}
