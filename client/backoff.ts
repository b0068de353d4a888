import { Rng } from '../core/rng.ts';

/** Reconnect backoff: exponential from `initialMs` to `maxMs`, with jitter, giving up after `giveUpMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Factor between successive waits. */
  multiplier: number;
  /** Fraction of each wait drawn at random (0.2: ±20 %), so sites do not reconnect in lockstep. */
  jitter: number;
  giveUpMs: number;
}

/** Defaults in the spirit of gRPC's connection backoff (1 s → 30 s cap, ×1.6, ±20 %); give up after 30 minutes. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, multiplier: 1.6, jitter: 0.2, giveUpMs: 30 * 60_000 };

/** The waits of one backoff episode, in order; seeded, so a site's schedule repeats. */
export class Backoff {
  private next: number;
  private readonly rng: Rng;

  constructor(
    private readonly p: BackoffPolicy,
    seed: number,
  ) {
    this.next = p.initialMs;
    this.rng = new Rng(seed);
  }

  /** The next wait in ms. */
  delay(): number {
    const base = this.next;
    this.next = Math.min(this.p.maxMs, this.next * this.p.multiplier);
    return Math.max(0, Math.round(base * (1 + this.p.jitter * (2 * this.rng.next() - 1))));
  }
}
