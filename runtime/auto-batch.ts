/**
 * Whether dynamic batching pays for a model on this machine, decided at warm-up.
 *
 * Batching pays only when the model runs a batch faster per image than it runs one image
 * alone. On a GPU it nearly always does; on a CPU a small network at low resolution gains
 * several times per image from batch 32, while the same network at 224 px gains nothing
 * (ONNX Runtime already keeps the cores busy at batch 1, and a batch's activations outgrow
 * the cache), so batching adds only its queue wait. `auto` times both at warm-up and serves
 * unbatched (batch 1, no queue delay) when the gain is below a threshold.
 */

/** How requests reach the model: always batched, never, or as the warm-up timings advise. */
export type BatchingMode = 'on' | 'off' | 'auto';

/** The batching modes, for flag parsing. */
export const BATCHING_MODES: readonly BatchingMode[] = ['auto', 'on', 'off'];

/**
 * In `auto`, batching is kept only when batch `maxBatch` is at least this much faster per
 * image than batch 1. Measured on 2 shared cores (docs/FIGURES.md, serving, session 3): the
 * 64 px mobile-s gained 4.7–8.3× at warm-up and batching cut server CPU per request by
 * 20 %; at 224 px it gained 0.8–1.8× (once 3.1×) and batching broke even.
 */
export const DEFAULT_MIN_BATCH_GAIN = 2;

/** Interleaved rounds timed in `auto` (each: one run at batch 1 and one at maxBatch); odd, for a median. */
export const AUTO_BATCH_ROUNDS = 9;

/** Times one model run of `batch` images, in ms (the warm-up's real runs, or a stub in tests). */
export type TimeBatch = (batch: number) => Promise<number> | number;

/** What was decided for one lane, and the timings behind it (shown in /healthz). */
export interface BatchingDecision {
  mode: BatchingMode;
  /** Whether requests are batched (false: batch 1, no queue delay). */
  batched: boolean;
  /** `auto` only: median ms per image at batch 1 and at `batch`, over interleaved rounds. */
  perImageMs?: { batch1: number; batchN: number };
  /** `auto` only: the batch size timed against batch 1. */
  batch?: number;
  /** `auto` only: perImageMs.batch1 ÷ perImageMs.batchN. */
  gain?: number;
  /** `auto` only: the threshold the gain was held against. */
  minGain?: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/**
 * Median ms per image at batch 1 and at batch `batch`, timing them alternately (so other
 * load on the machine falls on both alike) for `rounds` rounds.
 */
export async function perImageTimes(time: TimeBatch, batch: number, rounds = AUTO_BATCH_ROUNDS): Promise<{ batch1: number; batchN: number }> {
  const one: number[] = [];
  const many: number[] = [];
  for (let r = 0; r < rounds; r++) {
    one.push(await time(1));
    many.push((await time(batch)) / batch);
  }
  return { batch1: median(one), batchN: median(many) };
}

const round3 = (x: number): number => Number(x.toPrecision(3));

/**
 * Decides batching for a lane whose largest batch is `maxBatch`: `on` batches (when
 * maxBatch > 1), `off` never does, `auto` times batch 1 against batch maxBatch with `time`
 * and batches only when the per-image gain is at least `minGain`.
 */
export async function decideBatching(mode: BatchingMode, maxBatch: number, time: TimeBatch, minGain = DEFAULT_MIN_BATCH_GAIN, rounds = AUTO_BATCH_ROUNDS): Promise<BatchingDecision> {
  if (mode !== 'auto' || maxBatch <= 1) return { mode, batched: mode !== 'off' && maxBatch > 1 };
  const t = await perImageTimes(time, maxBatch, rounds);
  const gain = round3(t.batch1 / t.batchN); // decided on the figure reported
  return { mode, batched: gain >= minGain, perImageMs: { batch1: round3(t.batch1), batchN: round3(t.batchN) }, batch: maxBatch, gain, minGain };
}
