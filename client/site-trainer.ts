import type { NamedTensor } from '../core/tensors.ts';
import type { CalibrateOutput } from './calibration.ts';
import type { Metrics, RoundConfig } from '../proto/types.ts';

/** What local training returns: new weights, how many examples made them, and metrics (numbers only). */
export interface FitOutput {
  weights: NamedTensor[];
  numExamples: number;
  metrics: Metrics;
}

/** What evaluating the global model on the site's held-out split returns. */
export interface EvaluateOutput {
  numExamples: number;
  /** `auc` and `loss` at least, when defined. */
  metrics: Metrics;
}

/**
 * The site's local learning, as the agent sees it. The hospital's implementation runs
 * train/ (distillation from the teacher on its own images); tests use a tiny deterministic
 * one over plain arrays. Nothing but weights, counts and metrics comes out of it.
 */
export interface SiteTrainer {
  /** The number of training examples, announced at registration. */
  datasetSize(): Promise<number>;
  /** What the site can do (backend, task), announced at registration. */
  capabilities(): Promise<Record<string, string>>;
  /** E local epochs (config.localEpochs) from the global weights; FedProx's μ in config.proximalMu. */
  fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput>;
  /** Evaluates the weights on the site's held-out split. */
  evaluate(global: NamedTensor[], config: RoundConfig | null): Promise<EvaluateOutput>;
  /** Calibration statistics of the weights on the site's images (config.calibration; client/calibration.ts). Optional: without it the site sits calibrate tasks out. */
  calibrate?(global: NamedTensor[], config: RoundConfig | null): Promise<CalibrateOutput>;
}
