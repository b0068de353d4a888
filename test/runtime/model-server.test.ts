import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OverloadError } from '../../runtime/batcher.ts';
import { GpuMemoryMonitor } from '../../runtime/gpu-monitor.ts';
import { ModelServer } from '../../runtime/model-server.ts';
import type { InferencePlan } from '../../runtime/plan.ts';
import { openSession, type ModelSession } from '../../runtime/session.ts';
import type { SessionOpener } from '../../runtime/variant.ts';
import { sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';

const PLAN: InferencePlan = { mode: 'cpu', provider: 'cpu', maxBatch: 8, freeRamMB: 16000, reasons: [] };
const X = new Float32Array([1, 2, 3, 4]); // Σx = 10; version k answers logits [k·Σx, 0]

let root: string;
let server: ModelServer | undefined;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'fedkd-repo-'));
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
  rmSync(root, { recursive: true, force: true });
});

/** The first logit a version answers for X: which version ran. */
const versionOf = (logits: Float32Array) => logits[0] / 10;

describe('ModelServer', () => {
  it('serves the newest version and batches concurrent requests, each getting its own answer', async () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    writeVersion(root, '2', sumClassifier(2, 0));
    server = await ModelServer.open(root, { plan: PLAN, batcher: { maxQueueDelayMs: 50 } });
    const inputs = Array.from({ length: 8 }, (_, i) => new Float32Array([i, i, i, i]));
    const out = await Promise.all(inputs.map((x) => server!.infer(x)));
    expect(out.map((o) => Array.from(o.output.data))).toEqual(inputs.map((_, i) => [2 * 4 * i, 0]));
    expect(out.every((o) => o.version === '2')).toBe(true);
    const m = server.metricsText();
    // one batch of 8 after the 3 warm-ups (which bypass the batcher)
    expect(m).toContain('fedkd_batch_size_count{version="2",precision="fp32",provider="cpu"} 1');
    expect(m).toContain('fedkd_batch_size_sum{version="2",precision="fp32",provider="cpu"} 8');
    expect(m).toContain('fedkd_requests_total{version="2",precision="fp32",provider="cpu"} 8');
    expect(m).toMatch(/fedkd_request_latency_seconds_bucket\{version="2",precision="fp32",provider="cpu",le="\+Inf"\} 8/);
  });

  it('a request waits for company only while another leased request has yet to reach the batcher', async () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    server = await ModelServer.open(root, { plan: PLAN, batcher: { maxQueueDelayMs: 1000 } });
    const t0 = performance.now();
    expect(Array.from((await server.infer(X)).output.data)).toEqual([10, 0]); // alone: runs at once
    expect(performance.now() - t0).toBeLessThan(500);
    const decoding = server.acquire(); // a second request, still being decoded
    const first = server.infer(new Float32Array([1, 1, 1, 1]));
    await new Promise((r) => setTimeout(r, 50));
    const second = server.run(decoding, new Float32Array([2, 2, 2, 2])); // it arrives: both run as one batch
    const out = await Promise.all([first, second]);
    decoding.release();
    expect(out.map((o) => Array.from(o.output.data))).toEqual([[4, 0], [8, 0]]);
    const m = server.metricsText();
    expect(m).toContain('fedkd_batch_size_count{version="1",precision="fp32",provider="cpu"} 2'); // [1] then [2]
    expect(m).toContain('fedkd_batch_size_sum{version="1",precision="fp32",provider="cpu"} 3');
  });

  it('splits traffic A/B by a stable hash of the request key, with weights', async () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    writeVersion(root, '2', sumClassifier(2, 0));
    writeFileSync(path.join(root, 'serving.json'), JSON.stringify({ split: { '1': 1, '2': 3 } }));
    server = await ModelServer.open(root, { plan: PLAN, batcher: { maxQueueDelayMs: 0 } });
    const keys = Array.from({ length: 200 }, (_, i) => `patient-${i}`);
    // independent reference: the key's sha256, first 32 bits, as a fraction; below 1/4 → version 1
    const expected = keys.map((k) => (parseInt(createHash('sha256').update(k).digest('hex').slice(0, 8), 16) / 2 ** 32 < 0.25 ? 1 : 2));
    const got = await Promise.all(keys.map(async (k) => versionOf((await server!.infer(X, k)).output.data)));
    expect(got).toEqual(expected);
    const again = await Promise.all(keys.map(async (k) => versionOf((await server!.infer(X, k)).output.data)));
    expect(again).toEqual(got);
    const share2 = got.filter((v) => v === 2).length / keys.length;
    expect(share2).toBeGreaterThan(0.65);
    expect(share2).toBeLessThan(0.85);
    expect(server.metricsText()).toContain('fedkd_split_weight{version="2"} 3');
  });

  it('hot-swaps: in-flight requests finish on the old version, new ones go to the new, a failed load keeps the old', async () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    server = await ModelServer.open(root, { plan: PLAN, batcher: { maxQueueDelayMs: 150 } });
    // requests queued on version 1 (held by the 150 ms queue delay) while version 2 arrives
    const inflight = Array.from({ length: 3 }, () => server!.infer(X));
    writeVersion(root, '2', sumClassifier(2, 0));
    const outcome = await server.reload();
    expect(outcome).toEqual({ loaded: ['2'], retired: ['1'] });
    const after = await server.infer(X);
    expect(after.version).toBe('2');
    expect(versionOf(after.output.data)).toBe(2);
    const old = await Promise.all(inflight);
    expect(old.map((o) => [o.version, versionOf(o.output.data)])).toEqual([['1', 1], ['1', 1], ['1', 1]]);
    // a broken version 3 does not take version 2 down
    writeVersion(root, '3', new Uint8Array([1, 2, 3, 4, 5]));
    const failed = await server.reload();
    expect(failed.error).toMatch(/model reload failed, still serving 2/);
    expect(versionOf((await server.infer(X)).output.data)).toBe(2);
    expect(server.metricsText()).toContain('fedkd_model_reload_failures_total 1');
  });

  it('refuses requests beyond the queue bound with an overload error and counts them', async () => {
    writeVersion(root, '1', sumClassifier(1, 0));
    server = await ModelServer.open(root, { plan: PLAN, batcher: { maxQueueDelayMs: 100, maxQueue: 4, maxBatch: 8 } });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => server!.infer(X)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(2);
    expect(refused[0].reason).toBeInstanceOf(OverloadError);
    expect(server.metricsText()).toContain('fedkd_request_overloads_total{version="1",precision="fp32",provider="cpu"} 2');
  });

  it('names the problem when the repository holds no model', async () => {
    await expect(ModelServer.open(root, { plan: PLAN })).rejects.toThrow(/holds no version folder/);
  });
});

describe('ModelServer on a (pretended) GPU', () => {
  it('sends new requests to the CPU while GPU memory is above 85% and counts who ran them', async () => {
    writeVersion(root, '1', sumClassifier(1, 0), 'model.fp16.onnx');
    writeVersion(root, '1', sumClassifier(3, 0), 'model.int8.onnx');
    let usedMB = 1000;
    const monitor = new GpuMemoryMonitor(() => [{ index: 0, name: 'fake', memoryTotalMB: 10000, memoryUsedMB: usedMB, memoryFreeMB: 10000 - usedMB }]);
    const pretend: SessionOpener = async (file, provider) => {
      const s = await openSession(file, { provider: 'cpu' });
      return { ...s, provider, run: s.run, release: s.release, endProfiling: s.endProfiling } as ModelSession;
    };
    const gpuPlan: InferencePlan = { mode: 'gpu', provider: 'cuda', maxBatch: 8, gpuFreeMB: 9000, freeRamMB: 16000, reasons: [] };
    server = await ModelServer.open(root, { plan: gpuPlan, open: pretend, gpuMonitor: monitor, batcher: { maxQueueDelayMs: 0 } });
    monitor.poll();
    expect(await server.infer(X)).toMatchObject({ provider: 'cuda', precision: 'fp16' });
    usedMB = 8600; // 86%
    monitor.poll();
    // the CPU lane runs the only CPU variant there is (INT8: logits [30, 0])
    const diverted = await server.infer(X);
    expect(diverted).toMatchObject({ provider: 'cpu', precision: 'int8' });
    expect(versionOf(diverted.output.data)).toBe(3);
    usedMB = 8500; // exactly 85%: not above, back to the GPU
    monitor.poll();
    expect((await server.infer(X)).provider).toBe('cuda');
    const m = server.metricsText();
    expect(m).toContain('fedkd_requests_by_provider_total{version="1",precision="fp16",provider="cuda",ran_on="cuda"} 2');
    expect(m).toContain('fedkd_requests_by_provider_total{version="1",precision="fp16",provider="cuda",ran_on="cpu"} 1');
    expect(m).toContain('fedkd_gpu_memory_used_ratio 0.85');
  });
});
