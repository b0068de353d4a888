import { describe, expect, it } from 'vitest';
import { choosePrecision, planInference } from '../../runtime/plan.ts';
import { cpuFeatures, parseMemAvailable, parseNvidiaSmi, withProbes, type GpuInfo } from '../../runtime/probes.ts';

const GIB = 1024 ** 3;
const CUDA = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: true }];
const NO_CUDA = [{ name: 'cpu', bundled: true }, { name: 'cuda', bundled: false }];
const gpu = (freeMB: number): GpuInfo => ({ index: 0, name: 'Tesla T4', memoryTotalMB: 15360, memoryUsedMB: 15360 - freeMB, memoryFreeMB: freeMB });

describe('probe parsers', () => {
  it('reads nvidia-smi CSV, including a GPU name with a comma', () => {
    const csv = '0, NVIDIA A100-SXM4-40GB, 40960, 1024, 39936\n1, Odd, Name, 8192, 8000, 192\n';
    expect(parseNvidiaSmi(csv)).toEqual([
      { index: 0, name: 'NVIDIA A100-SXM4-40GB', memoryTotalMB: 40960, memoryUsedMB: 1024, memoryFreeMB: 39936 },
      { index: 1, name: 'Odd, Name', memoryTotalMB: 8192, memoryUsedMB: 8000, memoryFreeMB: 192 },
    ]);
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the driver')).toEqual([]);
  });

  it('reads AVX2, AVX-512 and VNNI flags from /proc/cpuinfo', () => {
    const text = 'processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse avx avx2 avx512f avx512bw avx512_vnni\n';
    expect(cpuFeatures(text, 4)).toEqual({ model: 'Test CPU', logicalCores: 4, avx2: true, avx512: true, vnni: true });
    expect(cpuFeatures('model name : Old\nflags : fpu sse avx\n', 1)).toMatchObject({ avx2: false, avx512: false, vnni: false });
    expect(cpuFeatures('flags : avx2 avx_vnni\n', 1)).toMatchObject({ avx2: true, avx512: false, vnni: true });
  });

  it('reads MemAvailable in bytes', () => {
    expect(parseMemAvailable('MemTotal: 100 kB\nMemFree: 10 kB\nMemAvailable:   2048 kB\n')).toBe(2048 * 1024);
    expect(parseMemAvailable('MemTotal: 100 kB\n')).toBeUndefined();
  });
});

describe('planInference', () => {
  it('runs on CPU at full batch when CUDA is not installed', () => {
    const p = planInference(withProbes({ listBackends: () => NO_CUDA, gpus: () => [gpu(12000)], freeRamBytes: () => 16 * GIB }));
    expect(p).toMatchObject({ mode: 'cpu', provider: 'cpu', maxBatch: 32 });
    expect(p.gpuFreeMB).toBeUndefined();
  });

  it('uses CUDA when installed and a GPU with ≥ 4 GB free answers', () => {
    const p = planInference(withProbes({ listBackends: () => CUDA, gpus: () => [gpu(2000), gpu(9000)], freeRamBytes: () => 16 * GIB }));
    expect(p).toMatchObject({ mode: 'gpu', provider: 'cuda', maxBatch: 32, gpuFreeMB: 9000, freeRamMB: 16384 });
  });

  it('goes light (INT8 on CPU, batch 8) with < 4 GB free on the GPU', () => {
    const p = planInference(withProbes({ listBackends: () => CUDA, gpus: () => [gpu(4095)], freeRamBytes: () => 16 * GIB }));
    expect(p).toMatchObject({ mode: 'light', provider: 'cpu', maxBatch: 8, gpuFreeMB: 4095 });
  });

  it('goes light with < 6 GB of free RAM, with or without a GPU', () => {
    expect(planInference(withProbes({ listBackends: () => NO_CUDA, gpus: () => [], freeRamBytes: () => 5 * GIB }))).toMatchObject({ mode: 'light', maxBatch: 8 });
    expect(planInference(withProbes({ listBackends: () => CUDA, gpus: () => [gpu(12000)], freeRamBytes: () => 6 * GIB - 1 }))).toMatchObject({ mode: 'light', provider: 'cpu' });
    expect(planInference(withProbes({ listBackends: () => NO_CUDA, gpus: () => [], freeRamBytes: () => 6 * GIB }), 16)).toMatchObject({ mode: 'cpu', maxBatch: 16 });
  });

  it('stays on CPU when CUDA is installed but nvidia-smi finds no GPU', () => {
    const p = planInference(withProbes({ listBackends: () => CUDA, gpus: () => [], freeRamBytes: () => 16 * GIB }));
    expect(p.mode).toBe('cpu');
    expect(p.reasons.join(' ')).toContain('no GPU');
  });
});

describe('choosePrecision', () => {
  const all = ['fp32', 'fp16', 'int8'] as const;
  it('takes FP16 then FP32 on a GPU', () => {
    expect(choosePrecision(all, 'gpu').precision).toBe('fp16');
    expect(choosePrecision(['fp32', 'int8'], 'gpu').precision).toBe('fp32');
  });
  it('takes INT8 on CPU only when the report says it is faster, and always in light mode', () => {
    expect(choosePrecision(all, 'cpu', true).precision).toBe('int8');
    expect(choosePrecision(all, 'cpu', false).precision).toBe('fp32');
    expect(choosePrecision(all, 'cpu').precision).toBe('fp32');
    expect(choosePrecision(all, 'light', false).precision).toBe('int8');
  });
  it('falls back to what exists', () => {
    expect(choosePrecision(['int8'], 'cpu', false).precision).toBe('int8');
    expect(choosePrecision(['fp16'], 'light').precision).toBe('fp16');
  });
});
