import type { Metrics } from '../proto/types.ts';

/** Per-site evaluation of one global model, and the numbers across sites. */
export interface EvaluationSummary {
  /** AUC by site id (NaN when a site's split has one class). */
  auc: Record<string, number>;
  /** Held-out loss by site id (NaN when not reported). */
  loss: Record<string, number>;
  /** Mean AUC over the sites with a defined AUC. */
  meanAuc: number;
  /** Spread: max − min AUC across those sites. */
  spreadAuc: number;
  /** Population standard deviation of those AUCs. */
  stdAuc: number;
  /** Example-weighted mean loss, when sites report one. */
  meanLoss: number;
  /** Sites that reported. */
  sites: number;
}

/**
 * Orders results by site id. Floating-point sums depend on the order of their terms, so the
 * coordinator sums in site order, not arrival order: the same updates give the same model.
 */
export function bySite<T extends { siteId: string }>(results: readonly T[]): T[] {
  return [...results].sort((x, y) => (x.siteId < y.siteId ? -1 : x.siteId > y.siteId ? 1 : 0));
}

/** Summarises the sites' evaluation metrics (`auc`, optional `loss`) of one global model, in site order. Pure. */
export function summarizeEvaluation(arrived: readonly { siteId: string; numExamples: number; metrics: Metrics }[]): EvaluationSummary {
  const reports = bySite(arrived);
  const auc: Record<string, number> = {};
  const loss: Record<string, number> = {};
  for (const r of reports) {
    auc[r.siteId] = r.metrics.auc ?? NaN;
    loss[r.siteId] = r.metrics.loss ?? NaN;
  }
  const defined = Object.values(auc).filter((v) => Number.isFinite(v));
  const mean = defined.length ? defined.reduce((s, v) => s + v, 0) / defined.length : NaN;
  const spread = defined.length ? Math.max(...defined) - Math.min(...defined) : NaN;
  const std = defined.length ? Math.sqrt(defined.reduce((s, v) => s + (v - mean) ** 2, 0) / defined.length) : NaN;
  const withLoss = reports.filter((r) => Number.isFinite(r.metrics.loss) && r.numExamples > 0);
  const n = withLoss.reduce((s, r) => s + r.numExamples, 0);
  const meanLoss = n > 0 ? withLoss.reduce((s, r) => s + r.metrics.loss * r.numExamples, 0) / n : NaN;
  return { auc, loss, meanAuc: mean, spreadAuc: spread, stdAuc: std, meanLoss, sites: reports.length };
}
