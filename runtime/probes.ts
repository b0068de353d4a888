import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { systemProbe, type ProviderProbe } from './session.ts';

/** One NVIDIA GPU as nvidia-smi reports it; memory in MiB. */
export interface GpuInfo {
  index: number;
  name: string;
  memoryTotalMB: number;
  memoryUsedMB: number;
  memoryFreeMB: number;
}

/**
 * Everything the runtime looks at to decide how to run a model. Each probe is a plain
 * function, so tests replace any of them and walk the GPU paths without a GPU.
 */
export interface SystemProbes extends ProviderProbe {
  /** GPUs from `nvidia-smi --query-gpu`; empty when nvidia-smi is absent or lists none. */
  gpus(): GpuInfo[];
  /** Memory the system can still hand out (MemAvailable), in bytes. */
  freeRamBytes(): number;
  /** Installed memory, in bytes. */
  totalRamBytes(): number;
  /** The text of /proc/cpuinfo (empty where there is none). */
  cpuInfoText(): string;
}

/** CPU features that matter for ONNX Runtime's kernels, INT8 ones above all. */
export interface CpuFeatures {
  model: string;
  logicalCores: number;
  avx2: boolean;
  avx512: boolean;
  /** AVX-512 VNNI or AVX-VNNI: the int8 dot-product instructions QLinearConv/QGemm use. */
  vnni: boolean;
}

const NVIDIA_QUERY = ['--query-gpu=index,name,memory.total,memory.used,memory.free', '--format=csv,noheader,nounits'];
const PROBE_TIMEOUT_MS = 5000;

/** Parses `nvidia-smi --query-gpu=index,name,memory.total,memory.used,memory.free --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(csv: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of csv.split('\n')) {
    const f = line.split(',').map((s) => s.trim());
    if (f.length < 5) continue;
    const [index, total, used, free] = [f[0], f[f.length - 3], f[f.length - 2], f[f.length - 1]].map(Number);
    if (![index, total, used, free].every(Number.isFinite)) continue;
    gpus.push({ index, name: f.slice(1, f.length - 3).join(', '), memoryTotalMB: total, memoryUsedMB: used, memoryFreeMB: free });
  }
  return gpus;
}

/** Reads the CPU model and its AVX2 / AVX-512 / VNNI flags from /proc/cpuinfo text. */
export function cpuFeatures(cpuinfo: string, logicalCores = os.cpus().length): CpuFeatures {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const model = /^model name\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    model,
    logicalCores,
    avx2: flags.has('avx2'),
    avx512: flags.has('avx512f'),
    vnni: flags.has('avx512_vnni') || flags.has('avx_vnni') || flags.has('avx512vnni'),
  };
}

/** MemAvailable from /proc/meminfo text, in bytes; undefined when absent. */
export function parseMemAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The real probes: onnxruntime-node's backend list, nvidia-smi, /proc/meminfo and /proc/cpuinfo. */
export const systemProbes: SystemProbes = {
  listBackends: () => systemProbe.listBackends(),
  gpuPresent: () => systemProbes.gpus().length > 0,
  gpus: () => {
    const r = spawnSync('nvidia-smi', NVIDIA_QUERY, { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
    return r.status === 0 ? parseNvidiaSmi(r.stdout ?? '') : [];
  },
  freeRamBytes: () => parseMemAvailable(readText('/proc/meminfo')) ?? os.freemem(),
  totalRamBytes: () => os.totalmem(),
  cpuInfoText: () => readText('/proc/cpuinfo'),
};

/** The real probes with some replaced, for tests and for `--simulate`-style overrides. */
export function withProbes(overrides: Partial<SystemProbes>): SystemProbes {
  const merged: SystemProbes = { ...systemProbes, gpuPresent: () => merged.gpus().length > 0, ...overrides };
  return merged;
}
