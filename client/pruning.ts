import type { NamedTensor } from '../core/tensors.ts';
import type { Metrics, RoundConfig } from '../proto/types.ts';
import { CRITERIA, type Criterion } from '../prune/index.ts';
import { PRUNE_SCORES_KEY, PruneWire, configMasks, wireArch } from '../prune/wire.ts';

/**
 * The site's side of federated pruning's wire (issue 6 §3): when a task carries masks
 * (`pruneMasks`), the model it names holds only the kept channels, so the agent expands it to
 * the full architecture before training and compacts its result before pushing; when a task
 * asks for scores (`pruneScores`), the site adds its channel importance to its metrics.
 * Trainers without pruning support see full-shape weights only.
 */
export class SitePruning {
  private scratch: PruneWire | null = null;

  private wire(config: RoundConfig | null): PruneWire {
    const arch = wireArch(config ?? {});
    if (this.scratch?.key !== JSON.stringify(arch)) {
      this.scratch?.dispose();
      this.scratch = new PruneWire(arch);
    }
    return this.scratch;
  }

  /** The weights a task's model bytes decoded to, at full shape (expanded under the task's masks). */
  toFull(weights: NamedTensor[], config: RoundConfig | null): NamedTensor[] {
    const masks = configMasks(config);
    return masks ? this.wire(config).expand(weights, masks) : weights;
  }

  /** Full-shape weights as they go on the wire (compact under the task's masks). */
  toWire(weights: NamedTensor[], config: RoundConfig | null): NamedTensor[] {
    const masks = configMasks(config);
    return masks ? this.wire(config).compact(weights, masks) : weights;
  }

  /** Channel importance of the trained weights as metrics, when the task asks for it. */
  scoreMetrics(weights: NamedTensor[], config: RoundConfig | null): Metrics {
    const criterion = config?.[PRUNE_SCORES_KEY];
    if (criterion === undefined) return {};
    if (!CRITERIA.includes(criterion as Criterion)) throw new Error(`unknown pruning criterion ${String(criterion)}`);
    return this.wire(config).scoreMetrics(weights, criterion as Criterion);
  }

  /** Frees the scratch model. */
  dispose(): void {
    this.scratch?.dispose();
    this.scratch = null;
  }
}
