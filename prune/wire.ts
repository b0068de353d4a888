import type * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from '../core/tensors.ts';
import { buildModel } from '../models/index.ts';
import { setNamedWeights } from '../models/weights.ts';
import { compactWeights, expandWeights } from './compact.ts';
import { analyzeChannels, type ChannelGraph } from './graph.ts';
import { channelImportance, type ChannelScores, type Criterion } from './importance.ts';
import { parseMasks, type PruneMasks } from './masks.ts';

/**
 * Round-config keys of federated pruning (issue 6 §3), set by the coordinator on tasks:
 * `pruneMasks` — the masks in force: sites train under them and weights travel compact;
 * `pruneScores` — the criterion by which a site reports its channel importance in its metrics.
 */
export const PRUNE_MASKS_KEY = 'pruneMasks';
/** See PRUNE_MASKS_KEY. */
export const PRUNE_SCORES_KEY = 'pruneScores';

/** The student keys of a round config that fix the weights' shapes (defaults as the client's student). */
export interface WireArch {
  arch: string;
  numClasses: number;
  widthMultiplier: number;
  imageSize: number;
}

/** The architecture a round config (or the coordinator's `training` section) describes. */
export function wireArch(c: Record<string, unknown>): WireArch {
  const num = (k: string, d: number): number => (typeof c[k] === 'number' ? (c[k] as number) : d);
  return { arch: typeof c.arch === 'string' ? c.arch : 'mobile-s', numClasses: num('numClasses', 2), widthMultiplier: num('widthMultiplier', 1), imageSize: num('imageSize', 64) };
}

/** The masks a round config carries, or undefined when it carries none. */
export function configMasks(c: Record<string, unknown> | null | undefined): PruneMasks | undefined {
  const m = c?.[PRUNE_MASKS_KEY];
  return m === undefined || m === null ? undefined : parseMasks(m);
}

/**
 * The model a federation's weights belong to, used only for its shapes and channel graph:
 * compact ⇄ full weights on the wire, masks applied to aggregated weights, importance scores.
 * One per architecture; weights written into it are scratch.
 */
export class PruneWire {
  readonly model: tf.LayersModel;
  readonly graph: ChannelGraph;
  readonly key: string;

  constructor(arch: WireArch) {
    this.key = JSON.stringify(arch);
    this.model = buildModel(arch.arch, { inputSize: arch.imageSize, inputChannels: 1, numClasses: arch.numClasses, widthMultiplier: arch.widthMultiplier, seed: 0 });
    this.graph = analyzeChannels(this.model);
  }

  /** Writes full-shape weights into the scratch model (for importance or masks on them). */
  load(full: readonly NamedTensor[]): tf.LayersModel {
    setNamedWeights(this.model, full);
    return this.model;
  }

  /** Full-shape weights → the kept channels only (compactWeights), as sent after pruning. */
  compact(full: readonly NamedTensor[], masks: PruneMasks): NamedTensor[] {
    setNamedWeights(this.model, full);
    return compactWeights(this.model, masks, this.graph);
  }

  /** Compact weights from the wire → full-shape weights with masked channels zero (expandWeights). */
  expand(compact: readonly NamedTensor[], masks: PruneMasks): NamedTensor[] {
    return expandWeights(this.model, masks, compact, this.graph);
  }

  /**
   * The weights with every masked channel zero, as they arrive after a compact round trip
   * (unlike applyMasks, BN moving variances of masked channels become 0 too), so the global
   * model the coordinator keeps is exactly what sites rebuild from the wire.
   */
  masked(full: readonly NamedTensor[], masks: PruneMasks): NamedTensor[] {
    return this.expand(this.compact(full, masks), masks);
  }

  /** A site's channel importance of its trained weights, as metrics (`score:LAYER:i`). */
  scoreMetrics(full: readonly NamedTensor[], criterion: Criterion): Record<string, number> {
    setNamedWeights(this.model, full);
    return scoresToMetrics(channelImportance(this.model, this.graph, criterion));
  }

  /** Frees the scratch model. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Channel scores flattened into metrics: `score:LAYER:i` → value (metrics are numbers only). */
export function scoresToMetrics(scores: ChannelScores): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [layer, v] of Object.entries(scores)) v.forEach((x, i) => (out[`score:${layer}:${i}`] = x));
  return out;
}

/** The inverse of scoresToMetrics; undefined when the metrics hold no scores. */
export function scoresFromMetrics(metrics: Record<string, number>): ChannelScores | undefined {
  const out: ChannelScores = {};
  for (const [k, v] of Object.entries(metrics)) {
    const m = /^score:(.+):(\d+)$/.exec(k);
    if (!m) continue;
    (out[m[1]] ??= [])[Number(m[2])] = v;
  }
  return Object.keys(out).length ? out : undefined;
}
