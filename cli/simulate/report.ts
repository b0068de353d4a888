import path from 'node:path';
import type { RoundSummary } from '../../coordinator/rounds.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { lineChartSvg, writeLineChartPng, type LineChart, type Series } from '../report/plot.ts';
import { BASELINE_LABELS, type Comparison, type SiteAucs } from './baselines.ts';
import { uncertainty } from './uncertainty.ts';

/** Quality targets of the issue, checked in the summary. */
export const TARGETS = { withinCentralised: 0.02, maxSpread: 0.03 };

const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
const f4 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));
/** One column's AUCs in the comparison's site order. */
const inSiteOrder = (c: Comparison, a: SiteAucs): number[] => c.sites.map((s) => a[s]);

/** Per-round, per-site rows: round, site, AUC, evaluation loss, and the round's mean training loss. */
export function roundsCsv(rounds: readonly RoundSummary[]): string {
  const lines = ['round,site,auc,eval_loss,train_loss'];
  for (const r of rounds) {
    const siteTrainLoss = (site: string): string => String(r.train.siteLoss?.[site] ?? '');
    for (const [site, auc] of Object.entries(r.evaluation?.auc ?? {})) lines.push(`${r.round},${site},${auc ?? ''},${r.evaluation?.loss?.[site] ?? ''},${siteTrainLoss(site)}`);
    lines.push(`${r.round},mean,${r.evaluation?.meanAuc ?? ''},${r.evaluation?.meanLoss ?? ''},${r.train.meanLoss ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One chart's series over rounds 1…n, in the plot module's form (missing rounds left out). */
export function roundSeries(series: Record<string, (number | null)[]>): Series[] {
  return Object.entries(series).map(([name, values]) => ({
    name,
    points: values.flatMap((v, i): [number, number][] => (v === null || !Number.isFinite(v) ? [] : [[i + 1, v]])),
  }));
}

/** The comparison's columns in table order: label and per-site AUCs (the unpruned centralised one only when present). */
function columns(c: Comparison): { key: string; label: string; aucs: SiteAucs }[] {
  return [
    { key: 'federated', label: 'federated', aucs: c.federated },
    { key: 'local', label: BASELINE_LABELS.local, aucs: c.local },
    { key: 'centralised', label: BASELINE_LABELS.centralised, aucs: c.centralised },
    ...(c.centralisedUnpruned ? [{ key: 'centralisedUnpruned', label: BASELINE_LABELS['centralised-unpruned'], aucs: c.centralisedUnpruned }] : []),
    ...(c.pretrained ? [{ key: 'pretrained', label: 'pre-trained (public data)', aucs: c.pretrained }] : []),
    { key: 'teacher', label: 'teacher', aucs: c.teacher },
  ];
}

/** A parameter count, or the range of several (each site's student alone). */
const paramsCell = (p: number | number[] | undefined): string => {
  const xs = typeof p === 'number' ? [p] : (p ?? []);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return !xs.length ? 'n/a' : lo === hi ? String(lo) : `${lo}–${hi}`;
};

/**
 * The report's headline figures and the issue's quality checks. When the federation prunes,
 * the baselines are pruned on the same schedule, so the checks compare the same student; the
 * gap to the unpruned centralised student is reported beside them as what pruning costs.
 */
export function summarize(c: Comparison): Record<string, unknown> {
  const cols = columns(c);
  const u = uncertainty(c, TARGETS.maxSpread);
  return {
    sites: c.sites,
    auc: Object.fromEntries(cols.map((x) => [x.key, x.aucs])),
    mean: Object.fromEntries(cols.map((x) => [x.key, mean(inSiteOrder(c, x.aucs))])),
    spread: Object.fromEntries(cols.map((x) => [x.key, spread(inSiteOrder(c, x.aucs))])),
    params: c.params,
    checks: qualityChecks(c),
    ...(u ? { uncertainty: u } : {}),
  };
}

/** The issue's quality checks on a comparison, and what federating gained or lost against the other students. */
interface QualityChecks {
  federatedAtLeastLocalAtEverySite: boolean;
  withinOfCentralised: { gap: number; target: number; met: boolean };
  gapToUnprunedCentralised?: number;
  gainOverPretrained?: number;
  spread: { value: number; target: number; met: boolean };
}

function qualityChecks(c: Comparison): QualityChecks {
  const fed = inSiteOrder(c, c.federated);
  const gap = (a: SiteAucs): number => mean(inSiteOrder(c, a)) - mean(fed);
  return {
    federatedAtLeastLocalAtEverySite: c.sites.every((s) => c.federated[s] >= c.local[s]),
    withinOfCentralised: { gap: gap(c.centralised), target: TARGETS.withinCentralised, met: gap(c.centralised) <= TARGETS.withinCentralised },
    ...(c.centralisedUnpruned ? { gapToUnprunedCentralised: gap(c.centralisedUnpruned) } : {}),
    ...(c.pretrained ? { gainOverPretrained: -gap(c.pretrained) } : {}),
    spread: { value: spread(fed), target: TARGETS.maxSpread, met: spread(fed) <= TARGETS.maxSpread },
  };
}

const signed = (v: number): string => `${v >= 0 ? '+' : '−'}${f4(Math.abs(v))}`;
const yesNo = (met: boolean): string => (met ? '**yes**' : '**no**');
const inWords = (xs: readonly string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

/**
 * The quality checks in words under the table: each with its margin (the site where federated
 * comes closest to, or falls furthest below, its site-alone student), what federating gained
 * over the pre-trained start, and a warning where the teacher scores below that start, since
 * distilling from it then pulls the student towards a weaker model.
 */
export function checksText(c: Comparison): string {
  const k = qualityChecks(c);
  const margins = c.sites.map((s) => ({ s, m: c.federated[s] - c.local[s] }));
  const closest = margins.reduce((a, b) => (b.m < a.m ? b : a));
  const g = k.withinOfCentralised.gap;
  const lines = [
    `**Issue 5's checks.** Federated at least each site alone: ${yesNo(k.federatedAtLeastLocalAtEverySite)} (smallest margin ${signed(closest.m)}, ${closest.s}); ` +
      `within ${TARGETS.withinCentralised} of centralised: ${yesNo(k.withinOfCentralised.met)} (mean ${f4(Math.abs(g))} ${g >= 0 ? 'below' : 'above'}); ` +
      `spread at most ${TARGETS.maxSpread}: ${yesNo(k.spread.met)} (${f4(k.spread.value)}).` +
      (k.gainOverPretrained !== undefined ? ` Federated minus pre-trained, mean: ${signed(k.gainOverPretrained)}.` : ''),
  ];
  const pre = c.pretrained;
  const weaker = pre ? c.sites.filter((s) => c.teacher[s] < pre[s]) : [];
  if (weaker.length) {
    lines.push(`The teacher scores below the pre-trained student at ${inWords(weaker)}: distilling from it pulls the student towards a weaker model there (student.alpha sets the weight of its soft labels).`);
  }
  return `${lines.join('\n\n')}\n`;
}

/** The summary table in Markdown: one row per site, then mean, spread and parameters. */
export function summaryTable(c: Comparison): string {
  const cols = columns(c);
  const rows = [`| site | ${cols.map((x) => x.label).join(' | ')} |`, `| --- |${' --- |'.repeat(cols.length)}`];
  for (const s of c.sites) rows.push(`| ${s} | ${cols.map((x) => f4(x.aucs[s])).join(' | ')} |`);
  const all = cols.map((x) => inSiteOrder(c, x.aucs));
  rows.push(`| **mean** | ${all.map((a) => f4(mean(a))).join(' | ')} |`);
  rows.push(`| spread (max − min) | ${all.map((a) => f4(spread(a))).join(' | ')} |`);
  rows.push(`| parameters | ${cols.map((x) => paramsCell(c.params[x.key as keyof Comparison['params']])).join(' | ')} |`);
  const u = uncertainty(c, TARGETS.maxSpread);
  const noise = u
    ? `\nSampling noise of the federated AUCs (Hanley & McNeil standard errors): ${c.sites.map((s) => `${s} ${f4(u.standardErrors[s])}`).join(', ')}. ` +
      `Sites with equal true AUCs would show a spread of ${f4(u.spreadFromNoise.mean)} on average, over ${TARGETS.maxSpread} in ${(100 * u.spreadFromNoise.pAbove).toFixed(0)}% of evaluations. ` +
      `Were the sites' true AUCs those measured, a fresh test split of the same size would measure the federated spread between ${f4(u.remeasuredSpread.interval[0])} and ${f4(u.remeasuredSpread.interval[1])} (95%), over ${TARGETS.maxSpread} in ${(100 * u.remeasuredSpread.pAbove).toFixed(0)}% of them.\n`
    : '';
  return `${rows.join('\n')}\n${noise}\n${checksText(c)}`;
}

/** A titled part of summary.md after the comparison table (pruning, INT8). */
export interface ReportSection {
  title: string;
  body: string;
}

/** summary.md: the comparison table, then each section under its heading. */
export function summaryMarkdown(c: Comparison, sections: readonly ReportSection[] = []): string {
  return [summaryTable(c), ...sections.map((x) => `\n## ${x.title}\n\n${x.body}`)].join('');
}

/** Writes the report folder: rounds (JSON, CSV), plots (auc.png, loss.png, and plots.html with the same charts), summary (JSON, Markdown). */
export async function writeReport(out: string, rounds: RoundSummary[], c: Comparison, extra: Record<string, unknown>, sections: readonly ReportSection[] = []): Promise<Record<string, unknown>> {
  const sites = c.sites;
  const auc = Object.fromEntries(sites.map((s) => [s, rounds.map((r) => r.evaluation?.auc[s] ?? null)]));
  const loss = { 'train (mean)': rounds.map((r) => r.train.meanLoss ?? null), 'held-out (mean)': rounds.map((r) => r.evaluation?.meanLoss ?? null) };
  const aucChart: LineChart = { title: 'Per-site test AUC of the global student', xLabel: 'round', yLabel: 'AUC', series: roundSeries(auc) };
  const lossChart: LineChart = { title: 'Loss per round', xLabel: 'round', yLabel: 'loss', series: roundSeries(loss) };
  await writeLineChartPng(path.join(out, 'auc.png'), aucChart);
  await writeLineChartPng(path.join(out, 'loss.png'), lossChart);
  const html = [
    '<!doctype html><html><head><meta charset="utf-8"><title>fedkd simulate</title></head><body style="font-family:sans-serif">',
    '<h1>fedkd simulate</h1>',
    lineChartSvg(aucChart),
    lineChartSvg(lossChart),
    `<h2>Summary</h2><pre>${summaryTable(c)}</pre>`,
    '</body></html>',
  ].join('\n');
  const summary = { ...summarize(c), ...extra };
  await writeFileAtomic(path.join(out, 'rounds.json'), `${JSON.stringify(rounds, null, 1)}\n`);
  await writeFileAtomic(path.join(out, 'rounds.csv'), roundsCsv(rounds));
  await writeFileAtomic(path.join(out, 'plots.html'), html);
  await writeFileAtomic(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  await writeFileAtomic(path.join(out, 'summary.md'), summaryMarkdown(c, sections));
  return summary;
}
