import { summarizeEvaluation, type EvaluationSummary } from './evaluation.ts';
import type { PruningSummary } from './pruning.ts';
import type { ResultRow, RoundRow } from './store.ts';

/** A closed round's summary, as written to rounds.json. */
export interface RoundSummary {
  round: number;
  /** sha256 of the round's global model. */
  model: string;
  sampled: string[];
  train: {
    sites: string[];
    examples: number;
    /** Example-weighted mean of the sites' training loss. */
    meanLoss: number;
    siteLoss: Record<string, number>;
    late: number;
    rejected: number;
    /** Start of the round to aggregation (s). */
    phaseSeconds: number;
    /** The slowest accepted site's local training (s, as the sites report `fitSeconds`). */
    slowestFitSeconds: number;
    /** (phase − slowest training) / phase: what the federation adds to the slowest site's work. */
    overhead: number;
    /** Mean bytes an accepted site pushed (compact weights after pruning). */
    meanPushBytes: number;
  };
  /** The sites' evaluation of the round's model; null when evaluation is off. */
  evaluation: EvaluationSummary | null;
  startedMs: number;
  closedMs: number;
  /** Bytes of the model the round's train tasks fetched (compact after pruning); set when the round closes. */
  modelBytes?: number;
  /** Federated pruning's state after this round, when the run prunes. */
  pruning?: PruningSummary;
}

/** Summarises a round from its row and its results (all statuses for training, accepted ones for evaluation). Pure. */
export function roundSummary(r: RoundRow, train: readonly ResultRow[], evals: readonly ResultRow[] | null, closedMs: number): RoundSummary {
  const ok = train.filter((t) => t.status === 'accepted');
  const withLoss = ok.filter((t) => Number.isFinite(t.metrics.loss));
  const lossExamples = withLoss.reduce((s, t) => s + t.numExamples, 0);
  const phaseSeconds = r.aggregatedMs !== null ? (r.aggregatedMs - r.startedMs) / 1000 : NaN;
  const fits = ok.map((t) => t.metrics.fitSeconds).filter((v) => Number.isFinite(v));
  const slowest = fits.length ? Math.max(...fits) : NaN;
  return {
    round: r.round,
    model: r.modelOut ?? '',
    sampled: r.sampled,
    train: {
      sites: ok.map((t) => t.siteId),
      examples: ok.reduce((s, t) => s + t.numExamples, 0),
      meanLoss: lossExamples > 0 ? withLoss.reduce((s, t) => s + t.metrics.loss * t.numExamples, 0) / lossExamples : NaN,
      siteLoss: Object.fromEntries(ok.map((t) => [t.siteId, t.metrics.loss ?? NaN])),
      late: train.filter((t) => t.status === 'late').length,
      rejected: train.filter((t) => t.status === 'rejected').length,
      phaseSeconds,
      slowestFitSeconds: slowest,
      meanPushBytes: ok.length ? ok.reduce((s, t) => s + (t.metrics.pushBytes ?? 0), 0) / ok.length : NaN,
      overhead: phaseSeconds > 0 && Number.isFinite(slowest) ? (phaseSeconds - slowest) / phaseSeconds : NaN,
    },
    evaluation: evals ? summarizeEvaluation(evals) : null,
    startedMs: r.startedMs,
    closedMs,
  };
}
