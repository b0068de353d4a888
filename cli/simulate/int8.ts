import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../core/files.ts';
import { warn } from '../../core/log.ts';
import type { PrecisionReport } from '../../quantize/precision-report.ts';
import type { SimulateConfig } from './config.ts';
import { fedkdProcess } from './steps.ts';

/** The INT8 part of the simulate summary: sizes, CPU latency, AUC per site FP32 vs INT8, the choices. */
export interface Int8Summary {
  method: string;
  fileBytes: Record<string, number>;
  latencyMs: Record<string, { batch1: number; batch32: number }>;
  /** Test AUC per site (and pooled) for each precision. */
  auc: Record<string, Record<string, number | null>>;
  /** Pooled AUC of INT8 minus that of FP32 (negative: a drop). */
  aucChangeInt8: number | null;
  /** What `fedkd quantize` chose with the sites' test sets (mixed precision included). */
  chosen: { precision: string; reason: string };
  /** What the coordinator chose from latency alone (its report.json). */
  coordinatorChosen: string;
}

const f4 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));

/** Reads a precision report (quantize/'s) into the summary's figures. */
export function int8Summary(report: PrecisionReport, coordinatorChosen: string): Int8Summary {
  const auc: Int8Summary['auc'] = {};
  for (const r of report.rows) auc[r.precision] = { pooled: r.auc, ...Object.fromEntries(r.tests.map((t) => [t.name, t.auc])) };
  const at = (p: string): number | null | undefined => report.rows.find((r) => r.precision === p)?.auc;
  const fp32 = at('fp32');
  const int8 = at('int8');
  return {
    method: report.calibration.method,
    fileBytes: Object.fromEntries(report.rows.map((r) => [r.precision, r.fileBytes])),
    latencyMs: Object.fromEntries(report.rows.map((r) => [r.precision, r.latencyMs])),
    auc,
    aucChangeInt8: typeof fp32 === 'number' && typeof int8 === 'number' ? int8 - fp32 : null,
    chosen: report.chosen,
    coordinatorChosen,
  };
}

/** The INT8 summary as Markdown: one row per precision (size, latency, pooled AUC), one column per site. */
export function int8Table(s: Int8Summary): string {
  const sites = Object.keys(s.auc.fp32 ?? {}).filter((k) => k !== 'pooled');
  const rows = [`| precision | bytes | ms (batch 1) | ms (batch 32) | AUC pooled | ${sites.join(' | ')} |`, `| --- | --- | --- | --- | --- |${sites.map(() => ' --- |').join('')}`];
  for (const p of Object.keys(s.fileBytes)) {
    const a = s.auc[p] ?? {};
    rows.push(`| ${p} | ${s.fileBytes[p]} | ${s.latencyMs[p].batch1.toFixed(2)} | ${s.latencyMs[p].batch32.toFixed(2)} | ${f4(a.pooled)} | ${sites.map((x) => f4(a[x])).join(' | ')} |`);
  }
  rows.push('', `chosen: **${s.chosen.precision}** — ${s.chosen.reason}`, `coordinator (latency only): ${s.coordinatorChosen}`);
  return `${rows.join('\n')}\n`;
}

/**
 * The federated INT8 student's evaluation: `fedkd quantize --federated` on the coordinator's
 * final-model folder (model.fp32.onnx, calibration.fkw: the sites' merged statistics) with every
 * site's test split, so the precision report has AUC per site for FP32, FP16, INT8 and mixed.
 * Writes `out/int8/` (model.int8.onnx, report.json, coordinator-report.json, int8.md).
 * Undefined when the coordinator skipped calibration (its report.json says `int8: skipped`).
 */
export async function evaluateInt8(c: SimulateConfig, sites: string[], finalOnnx: string): Promise<Int8Summary | undefined> {
  const first = JSON.parse(readFileSync(path.join(finalOnnx, 'report.json'), 'utf8')) as { int8?: string; calibration?: { skipped?: string } };
  if (first.int8 === 'skipped') {
    warn(`simulate: no INT8 student to evaluate: ${first.calibration?.skipped ?? 'calibration skipped'}`);
    return undefined;
  }
  const dir = path.join(c.out, 'int8');
  mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'model.int8.onnx');
  const args = ['quantize', '--model', path.join(finalOnnx, 'model.fp32.onnx'), '--federated', path.join(finalOnnx, 'calibration.fkw'), '--out', out, '--method', c.quantize.method];
  args.push('--test', ...sites, '--window', c.image.window, '--normalize', c.image.normalize, '--json');
  await fedkdProcess('quantize', args).done;
  copyFileSync(path.join(finalOnnx, 'report.json'), path.join(dir, 'coordinator-report.json'));
  const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as PrecisionReport;
  const coordinator = JSON.parse(readFileSync(path.join(finalOnnx, 'report.json'), 'utf8')) as { chosen: { precision: string } };
  const summary = int8Summary(report, coordinator.chosen.precision);
  await writeFileAtomic(path.join(dir, 'int8.md'), int8Table(summary));
  return summary;
}
