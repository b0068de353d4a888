import type { NamedTensor } from '../../core/tensors.ts';
import type { RoundConfig } from '../../proto/types.ts';
import type { WeightedTensors } from './aggregate.ts';

/** One site's accepted training result, weights already absolute (deltas resolved). */
export interface FitResult extends WeightedTensors {
  siteId: string;
}

/** The global model after a round and the strategy's server-side state (optimiser moments), if any. */
export interface Aggregated {
  weights: NamedTensor[];
  state: NamedTensor[] | null;
}

/**
 * A federated strategy in Flower's shape (configure_fit / aggregate_fit) over domain
 * types, never transport. Both verbs are pure: same inputs, same outputs; the server
 * state travels in and out explicitly so the coordinator can checkpoint it.
 */
export interface Strategy {
  readonly name: string;
  /** The config sent to the sites training in this round. */
  configureFit(base: RoundConfig): RoundConfig;
  /** The next global model from the current one, the round's results and the previous state. */
  aggregateFit(global: readonly NamedTensor[], results: readonly FitResult[], state: readonly NamedTensor[] | null): Aggregated;
}
