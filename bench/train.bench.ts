// Training speed of mobile-s on wasm, side by side with PyTorch CPU (issue 2, section 6).
// Prints one JSON line per figure: fedkd's own (`fedkd bench train --json`, one process
// each, so peak RSS is per run), then PyTorch's (bench/train_torch.py, when a python3 with
// torch is found), then the ratio the target is stated in. Each line carries the
// 1-minute load average when it was measured (loadBefore), as other work may share the cores.
// FEDKD_SIMD=0 in the environment measures the JS kernels instead of the SIMD module.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simdEnabled } from '../engine/simd/index.ts';

/** Input sizes of the target (FEDKD_BENCH_SIZES=128 runs one of them). */
const SIZES = (process.env.FEDKD_BENCH_SIZES ?? '64,128').split(',').map(Number);
const BATCH = 32;
/** Threads PyTorch may use (the setting), and 1 for a view that contention does not skew. */
const TORCH_THREADS = [2, 1];
const SECONDS = Number(process.env.FEDKD_BENCH_SECONDS ?? 5);
/** fedkd in one thread, and data-parallel over two worker threads (one per core here). */
const REPLICAS = [1, 2];
/** Debian's python3-torch lives under /usr/bin/python3 even when another python3 is first on PATH. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

interface Figure {
  imagesPerSecond: number;
  cpuSecondsPerImage?: number;
  [k: string]: unknown;
}

function lastJsonLine(out: string, loadBefore: number): Figure | undefined {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return line ? { ...(JSON.parse(line) as Figure), loadBefore: Number(loadBefore.toFixed(2)) } : undefined;
}

function fedkd(size: number, replicas: number): Figure | undefined {
  const args = [
    path.join(root, 'bin', 'fedkd.js'), 'bench', 'train', '--arch', 'mobile-s', '--size', String(size), '--batch', String(BATCH),
    '--backend', 'wasm', '--replicas', String(replicas), '--seconds', String(SECONDS), '--json',
  ];
  const load = os.loadavg()[0];
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: { ...process.env, FEDKD_QUIET: '1' } });
  if (r.status !== 0) process.stderr.write(r.stderr);
  return lastJsonLine(r.stdout ?? '', load);
}

function findTorchPython(): string | undefined {
  return PYTHONS.find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
}

function torch(py: string, size: number, threads: number): Figure | undefined {
  const load = os.loadavg()[0];
  const r = spawnSync(py, [path.join(root, 'bench', 'train_torch.py'), String(size), String(BATCH), String(threads), String(SECONDS)], { encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(r.stderr);
  return lastJsonLine(r.stdout ?? '', load);
}

const py = findTorchPython();
if (!py) process.stderr.write('train.bench: no python3 with torch found; printing fedkd figures only\n');
const simd = simdEnabled();
for (const size of SIZES) {
  const ours = REPLICAS.map((r) => fedkd(size, r)).filter((f): f is Figure => f !== undefined);
  for (const f of ours) console.log(JSON.stringify({ bench: 'train', simd, ...f }));
  if (!py || ours.length === 0) continue;
  const best = ours.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
  const leanest = ours.reduce((a, b) => ((b.cpuSecondsPerImage ?? Infinity) < (a.cpuSecondsPerImage ?? Infinity) ? b : a));
  for (const threads of TORCH_THREADS) {
    const ref = torch(py, size, threads);
    if (!ref) continue;
    console.log(JSON.stringify({ bench: 'train', ...ref }));
    const cpuRatio = ref.cpuSecondsPerImage && leanest.cpuSecondsPerImage ? ref.cpuSecondsPerImage / leanest.cpuSecondsPerImage : null;
    console.log(JSON.stringify({
      bench: 'train', figure: 'wasm-vs-pytorch', size, batch: BATCH, torchThreads: threads,
      wallRatio: Number((best.imagesPerSecond / ref.imagesPerSecond).toFixed(3)),
      cpuTimeRatio: cpuRatio === null ? null : Number(cpuRatio.toFixed(3)),
      target: 0.5,
    }));
  }
}
