import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { sumClassifier, writeVersion } from './fixtures/tiny-onnx.ts';

describe('fedkd doctor', () => {
  it('reports the forced tfjs backend, ORT providers and CPU flags as the system shows them', () => {
    const r = runCli(['doctor', '--json'], { env: { FEDKD_BACKEND: 'cpu' } });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const d = JSON.parse(lines[0]);
    expect(d.tfjs).toMatchObject({ backend: 'cpu', reason: 'requested by FEDKD_BACKEND' });
    expect(d.onnxruntime.providers).toEqual(ort.listSupportedBackends());
    // independent reading of the flags: a plain word search over /proc/cpuinfo's first flags line
    const flags = ` ${/flags\s*:(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? ''} `;
    expect(d.cpu.avx2).toBe(flags.includes(' avx2 '));
    expect(d.cpu.avx512).toBe(flags.includes(' avx512f '));
    expect(d.cpu.vnni).toBe(flags.includes(' avx512_vnni ') || flags.includes(' avx_vnni '));
    expect(d.ram.freeMB).toBeGreaterThan(0);
    expect(d.ram.freeMB).toBeLessThanOrEqual(d.ram.totalMB);
    const cudaUsable = d.onnxruntime.providers.some((p: { name: string; bundled: boolean }) => p.name === 'cuda' && p.bundled) && d.gpu.gpus.length > 0;
    expect(d.inference.provider).toBe(cudaUsable && d.inference.mode === 'gpu' ? 'cuda' : 'cpu');
    // the memory verdict follows from the two measured rates and the child's environment (runCli passes this one's)
    const keeps = ['MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'].every((k) => Boolean(process.env[k]));
    expect(d.memory).toMatchObject({ keepsFreedMemory: keeps, slowFirstTouch: d.memory.freshMBps * 8 < d.memory.touchedMBps });
  });

  it('prints a readable table without --json', () => {
    const r = runCli(['doctor'], { env: { FEDKD_BACKEND: 'cpu' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tfjs backend\s+cpu — requested by FEDKD_BACKEND/);
    expect(r.stdout).toMatch(/inference\s+(cpu|gpu|light) mode on (cpu|cuda)/);
  });

  it('with --models says which file of each version would run on this machine', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-doctor-'));
    try {
      for (const f of ['model.fp32.onnx', 'model.int8.onnx']) writeVersion(dir, '1', sumClassifier(1, 0), f);
      writeFileSync(path.join(dir, '1', 'report.json'), JSON.stringify({ rows: [{ precision: 'fp32', latencyMs: { batch32: 9 } }, { precision: 'int8', latencyMs: { batch32: 4 } }] }));
      const r = runCli(['doctor', '--json', '--models', dir], { env: { FEDKD_BACKEND: 'cpu' } });
      expect(r.code).toBe(0);
      const d = JSON.parse(r.stdout);
      // on CPU (or light mode) the report makes it INT8; on a GPU, FP32 (there is no FP16)
      const precision = d.inference.mode === 'gpu' ? 'fp32' : 'int8';
      expect(d.models).toEqual([{ version: '1', precision, why: expect.stringMatching(precision === 'int8' ? /INT8/ : /GPU/) }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
