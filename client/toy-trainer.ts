import type { NamedTensor } from '../core/tensors.ts';
import type { RoundConfig } from '../proto/types.ts';
import type { EvaluateOutput, FitOutput, SiteTrainer } from './site-trainer.ts';

/** A toy site: its data is a target per weight, and how many examples it "holds". */
export interface ToySite {
  /** target[i] is the value this site pulls tensor i towards. */
  targets: Float32Array[];
  numExamples: number;
  /** Step size of one epoch. */
  lr: number;
  /** Wall time one epoch takes (ms), to stand in for real training. */
  epochMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A tiny deterministic trainer over plain arrays, for tests, benchmarks and dry runs of the
 * federation plumbing. Each epoch is a gradient step on ½‖w − t‖² + μ/2·‖w − w_global‖²:
 * w ← w − lr·((w − t) + μ(w − w_global)). With μ = 0, E epochs give
 * w = t + (1 − lr)^E·(w_global − t): a closed form tests compare against.
 * Evaluation reports loss = mean ½(w − t)² and auc = 1/(1 + loss).
 */
export class ToyTrainer implements SiteTrainer {
  constructor(private readonly site: ToySite) {}

  /** The toy site's example count. */
  async datasetSize(): Promise<number> {
    return this.site.numExamples;
  }

  /** Announces the toy trainer. */
  async capabilities(): Promise<Record<string, string>> {
    return { trainer: 'toy' };
  }

  /** E gradient steps from the global weights. */
  async fit(global: NamedTensor[], config: RoundConfig): Promise<FitOutput> {
    const mu = config.proximalMu ?? 0;
    const weights = global.map((g) => ({ ...g, shape: [...g.shape], data: Float32Array.from(g.data) }));
    for (let e = 0; e < config.localEpochs; e++) {
      if (this.site.epochMs) await sleep(this.site.epochMs);
      weights.forEach((w, i) => {
        const t = this.site.targets[i];
        const g = global[i].data;
        for (let j = 0; j < w.data.length; j++) w.data[j] -= this.site.lr * (w.data[j] - t[j] + mu * (w.data[j] - g[j]));
      });
    }
    return { weights, numExamples: this.site.numExamples, metrics: { loss: this.loss(weights) } };
  }

  /** Loss and a stand-in AUC of the weights against this site's targets. */
  async evaluate(global: NamedTensor[]): Promise<EvaluateOutput> {
    const loss = this.loss(global);
    return { numExamples: this.site.numExamples, metrics: { loss, auc: 1 / (1 + loss) } };
  }

  private loss(weights: NamedTensor[]): number {
    let s = 0;
    let n = 0;
    weights.forEach((w, i) => {
      const t = this.site.targets[i];
      for (let j = 0; j < w.data.length; j++) s += 0.5 * (w.data[j] - t[j]) ** 2;
      n += w.data.length;
    });
    return n ? s / n : 0;
  }
}
