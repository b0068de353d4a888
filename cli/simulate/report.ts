import path from 'node:path';
import type { RoundSummary } from '../../coordinator/rounds.ts';
import { writeFileAtomic } from '../../core/files.ts';
import type { Comparison, SiteAucs } from './baselines.ts';

/** Quality targets of the issue, checked in the summary. */
export const TARGETS = { withinCentralised: 0.02, maxSpread: 0.03 };

const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
const f4 = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));

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

/** An inline SVG line chart: one series per name over rounds 1…n. */
export function lineChart(title: string, series: Record<string, (number | null)[]>, yLabel: string): string {
  const W = 560;
  const H = 300;
  const m = { l: 56, r: 110, t: 30, b: 40 };
  const values = Object.values(series).flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const n = Math.max(1, ...Object.values(series).map((s) => s.length));
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const x = (i: number): number => m.l + (n === 1 ? 0 : (i / (n - 1)) * (W - m.l - m.r));
  const y = (v: number): number => m.t + (1 - (v - lo) / (hi - lo)) * (H - m.t - m.b);
  const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`, `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${title}</text>`];
  parts.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(3)}</text><line x1="${m.l}" y1="${y(v)}" x2="${W - m.r}" y2="${y(v)}" stroke="#eee"/>`);
  }
  for (let i = 0; i < n; i++) parts.push(`<text x="${x(i)}" y="${H - m.b + 16}" text-anchor="middle">${i + 1}</text>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle">round</text><text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">${yLabel}</text>`);
  Object.entries(series).forEach(([name, s], k) => {
    const c = colours[k % colours.length];
    const pts = s.map((v, i) => (v === null || !Number.isFinite(v) ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean);
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${W - m.r + 8}" y="${m.t + 14 * k + 10}" fill="${c}">${name}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The report's headline figures and the quality checks. */
export function summarize(c: Comparison): Record<string, unknown> {
  const col = (a: SiteAucs): number[] => c.sites.map((s) => a[s]);
  const fed = col(c.federated);
  const central = col(c.centralised);
  return {
    sites: c.sites,
    auc: { federated: c.federated, local: c.local, centralised: c.centralised, teacher: c.teacher },
    mean: { federated: mean(fed), local: mean(col(c.local)), centralised: mean(central), teacher: mean(col(c.teacher)) },
    spread: { federated: spread(fed), local: spread(col(c.local)), centralised: spread(central), teacher: spread(col(c.teacher)) },
    params: c.params,
    checks: {
      federatedAtLeastLocalAtEverySite: c.sites.every((s) => c.federated[s] >= c.local[s]),
      withinOfCentralised: { gap: mean(central) - mean(fed), target: TARGETS.withinCentralised, met: mean(central) - mean(fed) <= TARGETS.withinCentralised },
      spread: { value: spread(fed), target: TARGETS.maxSpread, met: spread(fed) <= TARGETS.maxSpread },
    },
  };
}

/** The summary table in Markdown: one row per site, then mean, spread and parameters. */
export function summaryTable(c: Comparison): string {
  const col = (a: SiteAucs): number[] => c.sites.map((s) => a[s]);
  const rows = ['| site | federated | site alone | centralised | teacher |', '| --- | --- | --- | --- | --- |'];
  for (const s of c.sites) rows.push(`| ${s} | ${f4(c.federated[s])} | ${f4(c.local[s])} | ${f4(c.centralised[s])} | ${f4(c.teacher[s])} |`);
  const all = [c.federated, c.local, c.centralised, c.teacher].map(col);
  rows.push(`| **mean** | ${all.map((a) => f4(mean(a))).join(' | ')} |`);
  rows.push(`| spread (max − min) | ${all.map((a) => f4(spread(a))).join(' | ')} |`);
  rows.push(`| parameters | ${c.params.student} | ${c.params.student} | ${c.params.student} | ${c.params.teacher} |`);
  return `${rows.join('\n')}\n`;
}

/** Writes the report folder: rounds (JSON, CSV), plots (HTML with SVG), summary (JSON, Markdown). */
export async function writeReport(out: string, rounds: RoundSummary[], c: Comparison, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const sites = c.sites;
  const auc = Object.fromEntries(sites.map((s) => [s, rounds.map((r) => r.evaluation?.auc[s] ?? null)]));
  const loss = { 'train (mean)': rounds.map((r) => r.train.meanLoss ?? null), 'held-out (mean)': rounds.map((r) => r.evaluation?.meanLoss ?? null) };
  const html = [
    '<!doctype html><html><head><meta charset="utf-8"><title>fedkd simulate</title></head><body style="font-family:sans-serif">',
    '<h1>fedkd simulate</h1>',
    lineChart('Per-site test AUC of the global student', auc, 'AUC'),
    lineChart('Loss per round', loss, 'loss'),
    `<h2>Summary</h2><pre>${summaryTable(c)}</pre>`,
    '</body></html>',
  ].join('\n');
  const summary = { ...summarize(c), ...extra };
  await writeFileAtomic(path.join(out, 'rounds.json'), `${JSON.stringify(rounds, null, 1)}\n`);
  await writeFileAtomic(path.join(out, 'rounds.csv'), roundsCsv(rounds));
  await writeFileAtomic(path.join(out, 'plots.html'), html);
  await writeFileAtomic(path.join(out, 'summary.json'), `${JSON.stringify(summary, null, 1)}\n`);
  await writeFileAtomic(path.join(out, 'summary.md'), summaryTable(c));
  return summary;
}
