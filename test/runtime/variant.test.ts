import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GpuMemoryMonitor } from '../../runtime/gpu-monitor.ts';
import { DEFAULT_MIN_BATCH_GAIN, type BatchingDecision } from '../../runtime/auto-batch.ts';
import type { InferencePlan } from '../../runtime/plan.ts';
import { scanRepository } from '../../runtime/repository.ts';
import { openSession, type ModelSession, type Provider } from '../../runtime/session.ts';
import { adaptMaxBatch, LoadedVariant, openOnProvider, type ItemResult, type SessionOpener } from '../../runtime/variant.ts';
import { sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';

const CPU_PLAN: InferencePlan = { mode: 'cpu', provider: 'cpu', maxBatch: 32, freeRamMB: 16000, reasons: [] };
const GPU_PLAN: InferencePlan = { mode: 'gpu', provider: 'cuda', maxBatch: 32, gpuFreeMB: 8000, freeRamMB: 16000, reasons: [] };
const LIGHT_PLAN: InferencePlan = { mode: 'light', provider: 'cpu', maxBatch: 8, freeRamMB: 4000, reasons: [] };
const X = new Float32Array([1, 2, 3, 4]); // Σx = 10

/** A repository version with three precisions told apart by their weights: logits = [a·Σx, b]. */
function threePrecisions(withReport?: { int8: number; fp32: number }) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fedkd-variant-'));
  writeVersion(root, '1', sumClassifier(1, 0), 'model.fp32.onnx');
  writeVersion(root, '1', sumClassifier(2, 0), 'model.fp16.onnx');
  writeVersion(root, '1', sumClassifier(3, 0), 'model.int8.onnx');
  if (withReport)
    writeFileSync(path.join(root, '1', 'report.json'), JSON.stringify({ rows: [{ precision: 'fp32', latencyMs: { batch1: 1, batch32: withReport.fp32 } }, { precision: 'int8', latencyMs: { batch1: 1, batch32: withReport.int8 } }] }));
  return scanRepository(root).versions[0];
}

/** Opens on CPU for real but reports the provider asked for: the CUDA path without a GPU. */
function pretendOpener(opened: { file: string; provider: Provider }[]): SessionOpener {
  return async (file, provider) => {
    opened.push({ file: path.basename(file), provider });
    const s = await openSession(file, { provider: 'cpu' });
    return { ...s, provider, run: s.run, release: s.release, endProfiling: s.endProfiling } as ModelSession;
  };
}

/** Real CPU sessions whose runs advance a fake clock by `cost(batch)` ms: warm-up timings chosen by hand. */
function clocked(cost: (batch: number) => number, clock: { t: number }): SessionOpener {
  return async (file, provider) => {
    const s = await openSession(file, { provider });
    return { ...s, provider, release: s.release, endProfiling: s.endProfiling, run: async (feeds) => ((clock.t += cost(feeds.input.dims[0])), s.run(feeds)) };
  };
}

afterEach(() => vi.restoreAllMocks());

describe('adaptMaxBatch', () => {
  it('keeps the batch within budget and shrinks it in proportion beyond', () => {
    expect(adaptMaxBatch([30, 20, 25], 32, 50)).toBe(32);
    // median 120 ms for 32 items → 3.75 ms each → ⌊50 / 3.75⌋ = 13
    expect(adaptMaxBatch([300, 100, 120], 32, 50)).toBe(13);
    expect(adaptMaxBatch([1000, 1000, 1000], 4, 10)).toBe(1);
  });
});

describe('LoadedVariant', () => {
  it('runs FP32 on CPU without a report, and the answer is the hand-computed logits', async () => {
    const v = await LoadedVariant.load(threePrecisions(), { plan: CPU_PLAN });
    const r = await v.infer(X);
    expect(r).toMatchObject({ provider: 'cpu', precision: 'fp32' });
    expect(Array.from(r.output.data)).toEqual([10, 0]);
    expect(r.output.dims).toEqual([1, 2]);
    expect(v.task).toBe('classification');
    await v.close();
  });

  it('takes INT8 on CPU when the precision report shows it faster, FP32 when slower', async () => {
    const fast = await LoadedVariant.load(threePrecisions({ int8: 5, fp32: 9 }), { plan: CPU_PLAN });
    expect(Array.from((await fast.infer(X)).output.data)).toEqual([30, 0]);
    expect(fast.precision).toBe('int8');
    const slow = await LoadedVariant.load(threePrecisions({ int8: 18, fp32: 9 }), { plan: CPU_PLAN });
    expect(slow.precision).toBe('fp32');
    await Promise.all([fast.close(), slow.close()]);
  });

  it('in light mode runs INT8 on CPU with the smaller batch', async () => {
    const v = await LoadedVariant.load(threePrecisions(), { plan: LIGHT_PLAN });
    expect(v).toMatchObject({ provider: 'cpu', precision: 'int8', maxBatch: 8 });
    expect(Array.from((await v.infer(X)).output.data)).toEqual([30, 0]);
    await v.close();
  });

  it('on a GPU plan runs FP16 on CUDA, with a CPU fallback the GPU monitor diverts to', async () => {
    const opened: { file: string; provider: Provider }[] = [];
    const v = await LoadedVariant.load(threePrecisions(), { plan: GPU_PLAN, open: pretendOpener(opened) });
    expect(opened).toEqual([{ file: 'model.fp16.onnx', provider: 'cuda' }, { file: 'model.fp32.onnx', provider: 'cpu' }]);
    expect(await v.infer(X)).toMatchObject({ provider: 'cuda', precision: 'fp16', output: { data: new Float32Array([20, 0]) } });
    let usedMB = 14000; // of 15000: 93% > 85%
    const monitor = new GpuMemoryMonitor(() => [{ index: 0, name: 'fake', memoryTotalMB: 15000, memoryUsedMB: usedMB, memoryFreeMB: 15000 - usedMB }]);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(monitor.poll()).toBe(true);
    expect(await v.infer(X, monitor.divertToCpu)).toMatchObject({ provider: 'cpu', precision: 'fp32', output: { data: new Float32Array([10, 0]) } });
    usedMB = 12000; // 80%: back to the GPU
    expect(monitor.poll()).toBe(false);
    expect((await v.infer(X, monitor.divertToCpu)).provider).toBe('cuda');
    expect(v.metrics.byProvider).toEqual({ cuda: 2, cpu: 1 });
    await v.close();
  });

  it('falls back to CPU with a warning when the CUDA session fails (real onnxruntime-node without CUDA)', async () => {
    const errs: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (errs.push(String(s)), true));
    const v = await LoadedVariant.load(threePrecisions(), { plan: GPU_PLAN, open: openOnProvider });
    expect(v).toMatchObject({ provider: 'cpu', precision: 'fp32' });
    expect(errs.join('')).toMatch(/warning: model version 1: the CUDA session failed .*falling back to CPU/);
    expect(Array.from((await v.infer(X)).output.data)).toEqual([10, 0]);
    await v.close();
  });

  it('times the first 3 inferences and shrinks the batch when they exceed the latency budget', async () => {
    let clock = 0;
    const slow: SessionOpener = async (file, provider) => {
      const s = await openSession(file, { provider });
      return { ...s, provider, release: s.release, endProfiling: s.endProfiling, run: async (feeds) => ((clock += 10 * feeds.input.dims[0]), s.run(feeds)) };
    };
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    // 10 ms per item, batch 32 → 320 ms > 100 ms budget → batch ⌊100 / 10⌋ = 10
    const v = await LoadedVariant.load(threePrecisions(), { plan: CPU_PLAN, open: slow, now: () => clock, latencyBudgetMs: 100 });
    expect(v.maxBatch).toBe(10);
    expect(v.describe()).toMatchObject({ maxBatch: 10, adaptedFrom: 32 });
    await v.close();
  });

  /** Six concurrent requests x_i = [i, 0, 0, 1]; each answer must be Σx = i + 1 (checked here), returned for the batching checks. */
  async function sixConcurrent(v: LoadedVariant): Promise<ItemResult[]> {
    const inputs = Array.from({ length: 6 }, (_, i) => new Float32Array([i, 0, 0, 1]));
    const out = await Promise.all(inputs.map((x) => v.infer(x)));
    expect(out.map((o) => Array.from(o.output.data))).toEqual(inputs.map((_, i) => [i + 1, 0]));
    return out;
  }

  it('auto batching keeps batching when warm-up timings show a gain, and concurrent requests share a batch', async () => {
    const clock = { t: 0 };
    // 0.5 ms per run + 0.1 ms per image: batch 1 = 0.6 ms per image, batch 32 = 0.116 → gain 5.19
    const v = await LoadedVariant.load(threePrecisions(), { plan: CPU_PLAN, open: clocked((b) => 0.5 + 0.1 * b, clock), now: () => clock.t, batching: 'auto', batcher: { maxQueueDelayMs: 30 } });
    expect(v.describe()).toMatchObject({ maxBatch: 32, batching: { mode: 'auto', batched: true, perImageMs: { batch1: 0.6, batchN: 0.116 }, batch: 32, gain: 5.19 } });
    const out = await sixConcurrent(v);
    expect(out.every((o) => o.batched)).toBe(true);
    expect([v.metrics.batchSize.count, v.metrics.batchSize.sum]).toEqual([1, 6]);
    await v.close();
  });

  it('auto batching serves unbatched when a batch is no faster per image: batch 1, each request alone', async () => {
    const clock = { t: 0 };
    const v = await LoadedVariant.load(threePrecisions(), { plan: CPU_PLAN, open: clocked((b) => 2 * b, clock), now: () => clock.t, batching: 'auto', batcher: { maxQueueDelayMs: 30 } });
    expect(v.maxBatch).toBe(1);
    expect(v.describe()).toMatchObject({ maxBatch: 1, batching: { mode: 'auto', batched: false, perImageMs: { batch1: 2, batchN: 2 }, gain: 1, minGain: 2 } });
    const out = await sixConcurrent(v);
    expect(out.some((o) => o.batched)).toBe(false);
    expect([v.metrics.batchSize.count, v.metrics.batchSize.sum]).toEqual([6, 6]);
    await v.close();
  });

  it('auto batching times the real model in ONNX Runtime and decides by its own numbers', async () => {
    const v = await LoadedVariant.load(threePrecisions(), { plan: CPU_PLAN, batching: 'auto' });
    const d = v.describe().batching as BatchingDecision;
    expect(d.perImageMs!.batch1).toBeGreaterThan(0);
    expect(d.perImageMs!.batchN).toBeGreaterThan(0);
    expect(d.gain! / (d.perImageMs!.batch1 / d.perImageMs!.batchN)).toBeCloseTo(1, 1); // both rounded to 3 digits
    expect(d.minGain).toBe(DEFAULT_MIN_BATCH_GAIN);
    expect(d.batched).toBe(d.gain! >= DEFAULT_MIN_BATCH_GAIN);
    expect(v.maxBatch).toBe(d.batched ? 32 : 1);
    expect(Array.from((await v.infer(X)).output.data)).toEqual([10, 0]);
    await v.close();
  });
});
