import { describe, expect, it } from 'vitest';
import { decideBatching, DEFAULT_MIN_BATCH_GAIN, perImageTimes, type TimeBatch } from '../../runtime/auto-batch.ts';

/** A timing function that answers from a script per batch size and records the calls in order. */
function scripted(script: Record<number, number[]>): { time: TimeBatch; calls: number[] } {
  const calls: number[] = [];
  const next: Record<number, number> = {};
  const time = (batch: number) => {
    calls.push(batch);
    const i = (next[batch] = (next[batch] ?? -1) + 1);
    return script[batch][i];
  };
  return { time, calls };
}

describe('perImageTimes', () => {
  it('alternates batch 1 and the full batch, and takes the median per image of each', async () => {
    // batch 1: 1.0, 5.0 (a hiccup), 1.2 → median 1.2; batch 8: 4, 4.8, 40 ms → 0.5, 0.6, 5 per image → median 0.6
    const s = scripted({ 1: [1.0, 5.0, 1.2], 8: [4, 4.8, 40] });
    expect(await perImageTimes(s.time, 8, 3)).toEqual({ batch1: 1.2, batchN: 0.6 });
    expect(s.calls).toEqual([1, 8, 1, 8, 1, 8]);
  });
});

describe('decideBatching', () => {
  it('auto batches a model with a fixed cost per run (a small model at low resolution)', async () => {
    // 0.5 ms per run + 0.1 ms per image: batch 1 = 0.6 ms, batch 32 = 3.7 ms = 0.115625 per image → gain 5.19
    const d = await decideBatching('auto', 32, (b) => 0.5 + 0.1 * b, DEFAULT_MIN_BATCH_GAIN, 3);
    expect(d).toEqual({ mode: 'auto', batched: true, perImageMs: { batch1: 0.6, batchN: 0.116 }, batch: 32, gain: 5.19, minGain: 2 });
  });

  it('auto serves unbatched when a batch is no faster per image (a 224 px model on a CPU)', async () => {
    // 2 ms per image whatever the batch: gain 1 < 2
    const linear = await decideBatching('auto', 16, (b) => 2 * b, DEFAULT_MIN_BATCH_GAIN, 3);
    expect(linear).toMatchObject({ batched: false, perImageMs: { batch1: 2, batchN: 2 }, gain: 1 });
    // batch 32 slower per image than batch 1 (activations outgrow the cache): 0.17 vs 9.6 / 32 = 0.3 ms → gain 0.567
    const worse = await decideBatching('auto', 32, (b) => (b === 1 ? 0.17 : 9.6), DEFAULT_MIN_BATCH_GAIN, 3);
    expect(worse).toMatchObject({ batched: false, gain: 0.567 });
    // 1.8× per image (the best a 224 px model gained at warm-up here) is still below the default
    const near = await decideBatching('auto', 32, (b) => (b === 1 ? 0.36 : 6.4), DEFAULT_MIN_BATCH_GAIN, 3);
    expect(near).toMatchObject({ batched: false, perImageMs: { batch1: 0.36, batchN: 0.2 }, gain: 1.8 });
  });

  it('holds the gain, rounded to 3 digits as reported, against the threshold inclusively', async () => {
    // batch 1 = 1.3 ms, batch 10 = 10 ms = 1 ms per image → gain exactly 1.3
    expect((await decideBatching('auto', 10, (b) => (b === 1 ? 1.3 : 10), 1.3, 1)).batched).toBe(true);
    expect((await decideBatching('auto', 10, (b) => (b === 1 ? 1.3 : 10), 1.31, 1)).batched).toBe(false);
    // 1.9996 is reported as 2 and decided as 2
    expect(await decideBatching('auto', 10, (b) => (b === 1 ? 1.9996 : 10), 2, 1)).toMatchObject({ batched: true, gain: 2 });
  });

  it('on and off decide without timing; nothing to batch when the largest batch is 1', async () => {
    const s = scripted({});
    expect(await decideBatching('on', 32, s.time)).toEqual({ mode: 'on', batched: true });
    expect(await decideBatching('off', 32, s.time)).toEqual({ mode: 'off', batched: false });
    expect(await decideBatching('on', 1, s.time)).toEqual({ mode: 'on', batched: false });
    expect(await decideBatching('auto', 1, s.time)).toEqual({ mode: 'auto', batched: false });
    expect(s.calls).toEqual([]);
  });
});
