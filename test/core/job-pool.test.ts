import { describe, expect, it } from 'vitest';
import { UserError } from '../../core/errors.ts';
import { JobPool } from '../../core/job-pool.ts';

type Job = { values: Float32Array; waitMs: number };
type Result = { squares: Float32Array; thread: number };
const WORKER = new URL('./fixtures/square-worker.ts', import.meta.url);

describe('JobPool: jobs on worker threads (core/job-pool.ts, core/job-worker.ts)', () => {
  it('answers every job with its own result, spread over the workers, the input transferred', async () => {
    const pool = await JobPool.start<Job, Result>({ worker: WORKER, size: 2, depth: 2, name: 'test' });
    try {
      expect(pool.size).toBe(2);
      const inputs = Array.from({ length: 8 }, (_, k) => Float32Array.from([k, k + 0.5, -k / 4 + 3]));
      const want = inputs.map((a) => Array.from(a, (v) => Math.fround(v * v)));
      const sent = inputs.map((a) => a.slice());
      const out = await Promise.all(sent.map((values) => pool.run({ values, waitMs: 20 }, [values.buffer as ArrayBuffer])));
      expect(out.map((r) => Array.from(r.squares))).toEqual(want);
      expect(sent[0].length).toBe(0); // transferred, not copied
      expect(new Set(out.map((r) => r.thread)).size).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it("returns a worker's user error as a UserError and its other errors as plain ones; the pool goes on", async () => {
    const pool = new JobPool<Job, Result>({ worker: WORKER, size: 1, depth: 1, name: 'test' });
    try {
      const user = await pool.run({ values: Float32Array.of(-2), waitMs: 0 }).catch((e: unknown) => e);
      expect(user).toBeInstanceOf(UserError);
      expect((user as Error).message).toBe('negative input -2');
      const plain = await pool.run({ values: Float32Array.of(NaN), waitMs: 0 }).catch((e: unknown) => e);
      expect(plain).not.toBeInstanceOf(UserError);
      expect((plain as Error).message).toBe('not a number');
      expect(Array.from((await pool.run({ values: Float32Array.of(3), waitMs: 0 })).squares)).toEqual([9]);
    } finally {
      await pool.close();
    }
  });

  it('refuses jobs beyond maxQueue with the overload error, and every job after close', async () => {
    const pool = await JobPool.start<Job, Result>({ worker: WORKER, size: 1, depth: 1, maxQueue: 2, overload: (q, m) => new Error(`full: ${q}/${m}`), name: 'test' });
    const running = [1, 2, 3].map((v) => pool.run({ values: Float32Array.of(v), waitMs: 200 }));
    await expect(pool.run({ values: Float32Array.of(4), waitMs: 0 })).rejects.toThrow('full: 2/2');
    expect((await Promise.all(running)).map((r) => r.squares[0])).toEqual([1, 4, 9]);
    await pool.close();
    await expect(pool.run({ values: Float32Array.of(1), waitMs: 0 })).rejects.toThrow('test pool closed');
  });

  it('a worker that cannot load fails start, and every job of a pool made without start', async () => {
    const opts = { worker: WORKER, workerData: { failToLoad: true }, size: 1, depth: 1, name: 'test' };
    await expect(JobPool.start<Job, Result>(opts)).rejects.toThrow('this worker cannot load');
    const pool = new JobPool<Job, Result>(opts);
    try {
      await expect(pool.run({ values: Float32Array.of(1), waitMs: 0 })).rejects.toThrow('this worker cannot load');
      await expect(pool.run({ values: Float32Array.of(1), waitMs: 0 })).rejects.toThrow('this worker cannot load');
    } finally {
      await pool.close();
    }
  });
});
