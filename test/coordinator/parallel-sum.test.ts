import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ContentStore } from '../../coordinator/checkpoints.ts';
import { weightedMean, weightedSum } from '../../coordinator/strategies/aggregate.ts';
import { isShared, SumPool, sumPool } from '../../coordinator/strategies/parallel-sum.ts';
import { sumPasses } from '../../coordinator/strategies/sum-passes.ts';
import { packTensors, unpackTensors, type NamedTensor } from '../../core/tensors.ts';

const N = 1_500_000;

/** A Float32Array of n values on a SharedArrayBuffer, filled by f. */
function shared(n: number, f: (j: number) => number): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(n * 4));
  for (let j = 0; j < n; j++) a[j] = f(j);
  return a;
}

/** Values whose weighted sums are not exact in float32, so any change in summation order shows. */
const noisy = (k: number) => (j: number) => Math.sin(0.001 * j * (k + 1) + k) * (1 + k / 3);

/** Bitwise equality of two Float32Arrays (NaN-safe, -0 ≠ +0); the index of the first difference or -1. */
function firstDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return j;
  return -1;
}

const plainCopy = (a: Float32Array): Float32Array => Float32Array.from(a);
const quietStderr = (): string[] => {
  const lines: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (lines.push(String(s)), true));
  return lines;
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('weightedSum on shared memory (two threads)', () => {
  it('matches a hand-computed exact reference for 3, 8 and 10 arrays of 1.5M', async () => {
    expect(await sumPool().ready()).toBe(true);
    const spy = vi.spyOn(SumPool.prototype, 'sum');
    for (const m of [3, 8, 10]) {
      // a_k[j] = ((j·(k+1)) mod 7) − 3 and w_k = 2^-k: every product and sum is exact in float32
      const arrays = Array.from({ length: m }, (_, k) => shared(N, (j) => ((j * (k + 1)) % 7) - 3));
      const weights = arrays.map((_, k) => 2 ** -k);
      const want = new Float32Array(N);
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += (((j * (k + 1)) % 7) - 3) * 2 ** -k;
        want[j] = s;
      }
      const got = weightedSum(arrays, weights, new Float32Array(new SharedArrayBuffer(N * 4)));
      expect(firstDifference(got, want)).toBe(-1);
    }
    expect(spy).toHaveBeenCalledTimes(3);
  });

  it('is bit-identical to the single-thread path, with the worker summing part of it', async () => {
    const pool = new SumPool();
    expect(await pool.ready()).toBe(true);
    try {
      for (const m of [3, 8, 10]) {
        const arrays = Array.from({ length: m }, (_, k) => shared(N, noisy(k)));
        const weights = arrays.map((_, k) => (k + 1) / ((m * (m + 1)) / 2));
        const single = sumPasses(arrays.map(plainCopy), weights, new Float32Array(N));
        // the worker may be descheduled on a busy machine and claim nothing: try a few times
        let workerChunks = 0;
        for (let attempt = 0; attempt < 20 && workerChunks === 0; attempt++) {
          const out = new Float32Array(new SharedArrayBuffer(N * 4));
          workerChunks = pool.sum([{ arrays, out }], weights);
          expect(firstDifference(out, single)).toBe(-1);
        }
        expect(workerChunks).toBeGreaterThan(0);
      }
      expect(pool.usable).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('keeps plain-memory, mixed and short inputs on the calling thread', () => {
    const spy = vi.spyOn(SumPool.prototype, 'sum');
    const arrays = Array.from({ length: 3 }, (_, k) => shared(N, noisy(k)));
    const weights = [0.5, 0.25, 0.25];
    const want = sumPasses(arrays.map(plainCopy), weights, new Float32Array(N));
    const plain = weightedSum(arrays.map(plainCopy), weights);
    const mixed = weightedSum([arrays[0], plainCopy(arrays[1]), arrays[2]], weights, new Float32Array(new SharedArrayBuffer(N * 4)));
    const plainOut = weightedSum(arrays, weights);
    const short = weightedSum(arrays.map((a) => a.subarray(0, 1000)), weights, new Float32Array(new SharedArrayBuffer(4000)));
    expect(spy).not.toHaveBeenCalled();
    for (const got of [plain, mixed, plainOut]) expect(firstDifference(got, want)).toBe(-1);
    expect(firstDifference(short, want.subarray(0, 1000))).toBe(-1);
  });
});

describe('weightedMean on shared memory', () => {
  it('returns shared tensors equal bit for bit to the plain-memory mean', () => {
    // 3 sites, tensors of 700k + 500k + 3 values (1.2M in all: one parallel job over three segments)
    const sizes = [700_000, 500_000, 3];
    const site = (k: number, mem: (n: number, f: (j: number) => number) => Float32Array): NamedTensor[] =>
      sizes.map((n, i) => ({ name: `t${i}`, shape: [n], dtype: 'float32', data: mem(n, noisy(k + i)) }));
    const plainMem = (n: number, f: (j: number) => number) => Float32Array.from({ length: n }, (_, j) => f(j));
    const spy = vi.spyOn(SumPool.prototype, 'sum');
    const sharedMean = weightedMean([0, 1, 2].map((k) => ({ numExamples: 10 * (k + 1), weights: site(k, shared) })));
    const plainMean = weightedMean([0, 1, 2].map((k) => ({ numExamples: 10 * (k + 1), weights: site(k, plainMem) })));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(sharedMean.map((t) => isShared(t.data))).toEqual([true, true, true]);
    expect(plainMean.map((t) => isShared(t.data))).toEqual([false, false, false]);
    sharedMean.forEach((t, i) => expect(firstDifference(t.data, plainMean[i].data)).toBe(-1));
    // hand check of one element: (10·a0 + 20·a1 + 30·a2) / 60 for tensor t2, element 1
    const want = (10 * noisy(2)(1) + 20 * noisy(3)(1) + 30 * noisy(4)(1)) / 60;
    expect(sharedMean[2].data[1]).toBeCloseTo(want, 6);
  });
});

describe('worker failure', () => {
  const failing = new URL('./fixtures/failing-sum-worker.ts', import.meta.url);

  it('a kernel that throws in the worker: the job is recomputed, one warning, then one thread', async () => {
    const lines = quietStderr();
    const pool = new SumPool(failing);
    expect(await pool.ready()).toBe(true);
    const arrays = Array.from({ length: 4 }, (_, k) => shared(N, noisy(k)));
    const weights = [0.1, 0.2, 0.3, 0.4];
    const want = sumPasses(arrays.map(plainCopy), weights, new Float32Array(N));
    try {
      let workerChunks = 0;
      for (let attempt = 0; attempt < 20 && pool.usable; attempt++) {
        const out = new Float32Array(new SharedArrayBuffer(N * 4));
        workerChunks = pool.sum([{ arrays, out }], weights);
        expect(firstDifference(out, want)).toBe(-1);
      }
      expect(workerChunks).toBeGreaterThan(0);
      expect(pool.usable).toBe(false);
      const out = new Float32Array(new SharedArrayBuffer(N * 4));
      expect(pool.sum([{ arrays, out }], weights)).toBe(0);
      expect(firstDifference(out, want)).toBe(-1);
      expect(lines.filter((l) => l.includes('aggregation worker thread failed'))).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it('a worker that cannot start: sums stay correct on the calling thread, one warning', async () => {
    const lines = quietStderr();
    const pool = new SumPool(new URL('./fixtures/no-such-worker.js', import.meta.url));
    const arrays = Array.from({ length: 2 }, (_, k) => shared(N, noisy(k)));
    const want = sumPasses(arrays.map(plainCopy), [0.5, 0.5], new Float32Array(N));
    const first = new Float32Array(new SharedArrayBuffer(N * 4));
    pool.sum([{ arrays, out: first }], [0.5, 0.5]);
    expect(await pool.ready()).toBe(false);
    const second = new Float32Array(new SharedArrayBuffer(N * 4));
    expect(pool.sum([{ arrays, out: second }], [0.5, 0.5])).toBe(0);
    for (const got of [first, second]) expect(firstDifference(got, want)).toBe(-1);
    expect(lines.filter((l) => l.includes('aggregation worker thread failed'))).toHaveLength(1);
    await pool.close();
  });
});

describe('ContentStore.getShared (how the coordinator loads updates)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-getshared-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the stored bytes in shared memory, from file or cache, and refuses a corrupt file', async () => {
    const tensors: NamedTensor[] = [{ name: 'w', shape: [2, 3], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 7]) }];
    const bytes = packTensors(tensors);
    const sha = await new ContentStore(dir).put(bytes);
    const cachedStore = new ContentStore(dir);
    await cachedStore.put(bytes); // in its cache: getShared copies from there
    for (const store of [new ContentStore(dir), cachedStore]) {
      const got = await store.getShared(sha);
      expect(got.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect([...got]).toEqual([...bytes]);
      const [t] = unpackTensors(got, { view: true });
      expect(isShared(t.data)).toBe(true);
      expect([...t.data]).toEqual([1, -2, 3.5, 0, Math.fround(1e-3), 7]);
    }
    writeFileSync(new ContentStore(dir).pathOf(sha), bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)));
    await expect(new ContentStore(dir).getShared(sha)).rejects.toThrow(/corrupt/);
  });
});
