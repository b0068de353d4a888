import { describe, expect, it } from 'vitest';
import { DynamicBatcher, OverloadError } from '../../runtime/batcher.ts';

/** A runBatch whose calls wait until released, recording the batches it saw. */
function gatedRunner() {
  const batches: number[][] = [];
  const gates: (() => void)[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve) => {
      batches.push(items);
      gates.push(() => resolve(items.map((x) => x * 10)));
    });
  const openNext = async () => {
    while (!gates.length) await new Promise((r) => setTimeout(r, 1));
    gates.shift()?.();
  };
  return { run, batches, openNext };
}

describe('DynamicBatcher', () => {
  it('forms batches up to maxBatch and gives every caller its own result, in order', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher<number, number>(g.run, { maxBatch: 4, maxQueueDelayMs: 300, maxQueue: 100 });
    const done: number[] = [];
    const ps = Array.from({ length: 10 }, (_, i) => b.submit(i).then((r) => (done.push(i), r)));
    await g.openNext(); // [0..3] left at once (full batch); the rest queue behind it
    await g.openNext(); // [4..7]
    expect(g.batches).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(b.queued).toBe(2); // waiting for company or the 300 ms delay
    await g.openNext();
    expect(await Promise.all(ps)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(g.batches[2]).toEqual([8, 9]);
  });

  it('runs a lone request after the max queue delay, not before', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs), { maxBatch: 8, maxQueueDelayMs: 60, maxQueue: 10 });
    const t0 = performance.now();
    expect(await b.submit(7)).toBe(7);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(55);
    expect(sizes).toEqual([1]);
  });

  it('merges requests that arrive within the delay into one batch', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs.map((x) => -x)), { maxBatch: 8, maxQueueDelayMs: 40, maxQueue: 10 });
    const p1 = b.submit(1);
    await new Promise((r) => setTimeout(r, 10));
    const rest = [2, 3].map((x) => b.submit(x));
    expect(await Promise.all([p1, ...rest])).toEqual([-1, -2, -3]);
    expect(sizes).toEqual([3]);
  });

  it('refuses requests beyond the bounded queue with a clear overload error', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher<number, number>(g.run, { maxBatch: 1, maxQueueDelayMs: 0, maxQueue: 2 });
    const running = b.submit(0); // dispatched at once
    const queued = [b.submit(1), b.submit(2)];
    const refused = b.submit(3);
    await expect(refused).rejects.toBeInstanceOf(OverloadError);
    await expect(refused).rejects.toThrow(/overloaded: 2 requests already queued \(limit 2\)/);
    for (let i = 0; i < 3; i++) await g.openNext();
    expect(await Promise.all([running, ...queued])).toEqual([0, 10, 20]);
  });

  it('rejects every caller of a failed batch and keeps serving', async () => {
    let calls = 0;
    const b = new DynamicBatcher<number, number>(async (xs) => {
      if (calls++ === 0) throw new Error('boom');
      return xs;
    }, { maxBatch: 2, maxQueueDelayMs: 1000, maxQueue: 10 });
    const [a, c] = [b.submit(1), b.submit(2)];
    await expect(a).rejects.toThrow('boom');
    await expect(c).rejects.toThrow('boom');
    expect(await Promise.all([b.submit(3), b.submit(4)])).toEqual([3, 4]);
    await b.idle();
    expect(b.inFlight).toBe(0);
  });

  it('with batching off runs each request alone and concurrently', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher<number, number>(g.run, { maxBatch: 1, maxQueueDelayMs: 0, maxQueue: 10, concurrency: Infinity });
    const ps = [1, 2, 3].map((x) => b.submit(x));
    await new Promise((r) => setTimeout(r, 5));
    expect(g.batches).toEqual([[1], [2], [3]]);
    for (let i = 0; i < 3; i++) await g.openNext();
    expect(await Promise.all(ps)).toEqual([10, 20, 30]);
  });

  it('runs a waiting batch when its timer fires, even if the injected clock stands still', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs), { maxBatch: 8, maxQueueDelayMs: 20, maxQueue: 10 }, () => 0);
    expect(await Promise.all([b.submit(1), b.submit(2)])).toEqual([1, 2]);
    expect(sizes).toEqual([2]);
  });

  it('does not run a later request early on the timer armed for an earlier, already-batched one', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs), { maxBatch: 2, maxQueueDelayMs: 80, maxQueue: 10 });
    await Promise.all([b.submit(1), b.submit(2)]); // a full batch: left at once, its timer still armed
    await new Promise((r) => setTimeout(r, 40));
    const t0 = performance.now();
    expect(await b.submit(3)).toBe(3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75); // its own 80 ms, not the 40 left on the old timer
    expect(sizes).toEqual([2, 1]);
  });

  it('with no company on its way, runs at once (next turn) and still merges what was submitted in the same turn', async () => {
    const sizes: number[] = [];
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs), { maxBatch: 8, maxQueueDelayMs: 1000, maxQueue: 10 }, undefined, () => false);
    const t0 = performance.now();
    expect(await b.submit(1)).toBe(1);
    expect(await Promise.all([b.submit(2), b.submit(3), b.submit(4)])).toEqual([2, 3, 4]);
    expect(performance.now() - t0).toBeLessThan(500); // not the 1 s delay, twice
    expect(sizes).toEqual([1, 3]);
  });

  it('waits while company is on its way, and a nudge runs the batch once it is not', async () => {
    const sizes: number[] = [];
    let coming = true;
    const b = new DynamicBatcher<number, number>(async (xs) => (sizes.push(xs.length), xs), { maxBatch: 8, maxQueueDelayMs: 1000, maxQueue: 10 }, undefined, () => coming);
    const p = b.submit(1);
    await new Promise((r) => setTimeout(r, 30));
    expect(sizes).toEqual([]); // still waiting for company
    const t0 = performance.now();
    coming = false;
    b.nudge();
    expect(await p).toBe(1);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(sizes).toEqual([1]);
  });
});

