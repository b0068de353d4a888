import type * as tf from '@tensorflow/tfjs';
import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import { warn } from '../core/log.ts';
import type { Metrics } from '../proto/types.ts';
import { federatedMasks, maskCounts, parseMasks, pruningStep, shrinkModel, type ChannelScores, type PruneMasks, type PruneSettings } from '../prune/index.ts';
import { PRUNE_MASKS_KEY, PRUNE_SCORES_KEY, PruneWire, scoresFromMetrics, wireArch } from '../prune/wire.ts';
import type { ContentStore } from './checkpoints.ts';
import type { StateStore } from './store.ts';

const MASKS_META = 'prune-masks';
const WIRE_META = 'prune-wire';

/** What a round summary says about pruning and the wire. */
export interface PruningSummary {
  /** The masks this round's model carries were computed after this round (0: none). */
  masksRound: number;
  /** True when this round computed new masks (after its aggregation). */
  prunedNow: boolean;
  keptChannels: number;
  totalChannels: number;
}

/**
 * The coordinator's side of federated pruning (issue 6 §3, docs/CONTRACTS.md "Pruning"):
 * after the aggregation of each round in `settings.atRounds` it computes masks with
 * `federatedMasks` — on the aggregated global model, or on the sum of the importance scores
 * the sites reported — zeroes the masked channels of the new global model, and from then on
 * sends the masks with every task and the model compact (kept channels only) on the wire.
 * Masks and compact models are kept in the state store (meta) and content store, so a
 * restarted coordinator resumes with them.
 */
export class FederatedPruning {
  private scratch: PruneWire | null = null;

  constructor(
    readonly settings: PruneSettings,
    private readonly training: Record<string, unknown>,
    private readonly store: StateStore,
    private readonly content: ContentStore,
  ) {}

  private get wire(): PruneWire {
    return (this.scratch ??= new PruneWire(wireArch(this.training)));
  }

  /** Every pruning round's masks so far, by round. */
  history(): Record<number, PruneMasks> {
    const raw = JSON.parse(this.store.getMeta(MASKS_META) ?? '{}') as Record<string, unknown>;
    return Object.fromEntries(Object.entries(raw).map(([r, m]) => [Number(r), parseMasks(m)]));
  }

  /** The round whose masks are in force once `round` closed (0: none yet). */
  masksRoundAfter(round: number): number {
    return Math.max(0, ...Object.keys(this.history()).map(Number).filter((r) => r <= round));
  }

  /** The masks in force once `round` closed: the newest computed at a round ≤ `round`. */
  masksAfter(round: number): PruneMasks | undefined {
    return this.history()[this.masksRoundAfter(round)];
  }

  /** Round-config keys for `round`'s train tasks: the masks to train under, and the score criterion when the sites' scores are needed. */
  trainKeys(round: number): Record<string, unknown> {
    const masks = this.masksAfter(round - 1);
    const wantScores = this.settings.source === 'site-scores' && pruningStep(this.settings, round) !== undefined;
    return { ...(masks ? { [PRUNE_MASKS_KEY]: masks } : {}), ...(wantScores ? { [PRUNE_SCORES_KEY]: this.settings.criterion } : {}) };
  }

  /**
   * After `round`'s aggregation: at a pruning round, new masks (previous ones kept) from the
   * aggregated weights or the sites' scores; the weights with the masks in force applied.
   * The caller records new masks with `recordMasks` in the same transaction as the model.
   */
  afterAggregate(round: number, weights: NamedTensor[], siteMetrics: readonly Metrics[]): { weights: NamedTensor[]; masks?: PruneMasks } {
    const previous = this.masksAfter(round - 1);
    let masks: PruneMasks | undefined;
    if (pruningStep(this.settings, round)) {
      const siteScores = siteMetrics.map(scoresFromMetrics).filter((s): s is ChannelScores => s !== undefined);
      let settings = this.settings;
      if (settings.source === 'site-scores' && !siteScores.length) {
        // a run must not stall on sites that cannot score (older clients): rank on the aggregated model
        warn(`round ${round}: no site reported channel scores; pruning from the aggregated model instead`);
        settings = { ...settings, source: 'global-model' };
      }
      masks = federatedMasks(this.wire.load(weights), settings, round, { previous, siteScores });
    }
    const inForce = masks ?? previous;
    return { weights: inForce ? this.wire.masked(weights, inForce) : weights, masks };
  }

  /** Stores a pruning round's masks (call inside the transaction that stores its model). */
  recordMasks(round: number, masks: PruneMasks): void {
    this.store.setMeta(MASKS_META, JSON.stringify({ ...this.history(), [round]: masks }));
  }

  private wireMap(): Record<string, string> {
    return JSON.parse(this.store.getMeta(WIRE_META) ?? '{}') as Record<string, string>;
  }

  /** The sha256 of the compact form of the full model `sha` under `masks` (made and stored once). */
  async wireModel(sha: string, masks: PruneMasks): Promise<string> {
    const known = this.wireMap()[sha];
    if (known) return known;
    const compact = this.wire.compact(unpackTensors(await this.content.get(sha)), masks);
    const wireSha = await this.content.put(packTensors(compact));
    this.store.setMeta(WIRE_META, JSON.stringify({ ...this.wireMap(), [sha]: wireSha }));
    return wireSha;
  }

  /** The compact models sites may fetch. */
  published(): string[] {
    return Object.values(this.wireMap());
  }

  /** True when `base` is the full model `full` or its compact form. */
  sameModel(base: string, full: string): boolean {
    return base === full || this.wireMap()[full] === base;
  }

  /** A site's training result (decoded) as full-shape weights: expanded when `round` trained under masks. */
  fullWeights(round: number, weights: NamedTensor[]): NamedTensor[] {
    const masks = this.masksAfter(round - 1);
    return masks ? this.wire.expand(weights, masks) : weights;
  }

  /** The physically smaller model (shrinkModel) of full-shape weights under `masks`; the caller disposes it. */
  shrink(full: readonly NamedTensor[], masks: PruneMasks): Promise<tf.LayersModel> {
    return shrinkModel(this.wire.load(full), masks, this.wire.graph);
  }

  /** The pruning line of `round`'s summary. */
  summary(round: number): PruningSummary {
    const masksRound = this.masksRoundAfter(round);
    const masks = this.history()[masksRound];
    const c = masks ? maskCounts(masks) : { kept: 0, total: 0 };
    return { masksRound, prunedNow: masksRound === round && pruningStep(this.settings, round) !== undefined, keptChannels: c.kept, totalChannels: c.total };
  }

  /** Frees the scratch model. */
  dispose(): void {
    this.scratch?.dispose();
    this.scratch = null;
  }
}
