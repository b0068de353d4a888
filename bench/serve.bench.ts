// `fedkd serve` figures (issue 8 §6): requests/s and p50/p99 latency at 1, 8 and 32 concurrent
// clients on loopback with dynamic batching on and off, and a hot swap under load.
// The server is the real `fedkd serve` in a child process serving the mobile-s student
// (64×64, exported to ONNX); the clients POST a 64×64 PNG. One JSON line per figure on stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeGreyPng } from '../runtime/png.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel } from '../models/index.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { openSession } from '../runtime/session.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const INPUT_SIZE = 64;
const CONCURRENCY = [1, 8, 32];
/** Seconds of load per point, after a warm-up of WARMUP_S. */
const MEASURE_S = Number(process.env.FEDKD_BENCH_SECONDS ?? 5);
const WARMUP_S = 1;
/** The target: batching gives at least this much more throughput at 32 clients. */
const BATCHING_TARGET = 3;

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'serve', figure, value: Number(value.toPrecision(6)), unit, ...extra })}\n`);
}

async function exportStudent(dir: string, version: string): Promise<void> {
  const model = buildModel('mobile-s', { inputSize: INPUT_SIZE, inputChannels: 1, numClasses: 2, widthMultiplier: 1 });
  mkdirSync(path.join(dir, version), { recursive: true });
  // write under a temporary name and rename, so the server's watcher never sees half a file
  const tmp = path.join(dir, `.v${version}.onnx`);
  writeFileSync(tmp, exportOnnx(model));
  await import('node:fs/promises').then((fs) => fs.rename(tmp, path.join(dir, version, 'model.fp32.onnx')));
  model.dispose();
}

function startServe(models: string, args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'fedkd.js'), 'serve', '--models', models, '--port', '0', '--json', ...args], {
    cwd: ROOT,
    env: { ...process.env, FEDKD_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c) => {
      out += String(c);
      if (out.includes('\n')) resolve({ url: (JSON.parse(out.split('\n')[0]) as { url: string }).url, child });
    });
    child.once('exit', (code) => reject(new Error(`fedkd serve exited with ${code}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

interface LoadResult {
  latencies: number[];
  failed: number;
  seconds: number;
  versions: Record<string, number>;
}

/** `clients` loops POSTing the image for `seconds`; latencies in ms of the successful requests. */
async function load(url: string, body: Uint8Array<ArrayBuffer>, clients: number, seconds: number, onTick?: (elapsedS: number) => void): Promise<LoadResult> {
  const latencies: number[] = [];
  const versions: Record<string, number> = {};
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const res = await fetch(`${url}/v1/predict`, { method: 'POST', body });
        const r = (await res.json()) as { version?: string };
        if (res.status !== 200) failed++;
        else {
          latencies.push(performance.now() - s);
          versions[r.version ?? '?'] = (versions[r.version ?? '?'] ?? 0) + 1;
        }
      } catch {
        failed++;
      }
      onTick?.((performance.now() - t0) / 1000);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { latencies, failed, seconds: (performance.now() - t0) / 1000, versions };
}

/** The model alone in ONNX Runtime: per-image ms at batch 1 and at batch 32 — the most batching can gain. */
async function modelOnlyGain(file: string): Promise<number> {
  const s = await openSession(file, { provider: 'cpu' });
  const perItem = async (batch: number, runs: number) => {
    const feed = { input: { data: new Float32Array(batch * INPUT_SIZE * INPUT_SIZE), dims: [batch, 1, INPUT_SIZE, INPUT_SIZE] } };
    for (let i = 0; i < 3; i++) await s.run(feed);
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await s.run(feed);
    return (performance.now() - t0) / runs / batch;
  };
  const [b1, b32] = [await perItem(1, 200), await perItem(32, 20)];
  await s.release();
  emit('model-only latency per image', b1, 'ms', { batch: 1 });
  emit('model-only latency per image', b32, 'ms', { batch: 32 });
  return b1 / b32;
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function main(): Promise<void> {
  await initBackend();
  const repo = mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-serve-'));
  try {
    await exportStudent(repo, '1');
    const pixels = Uint8Array.from({ length: INPUT_SIZE * INPUT_SIZE }, (_, i) => (i * 37) % 256);
    const png = new Uint8Array(await encodeGreyPng(INPUT_SIZE, INPUT_SIZE, pixels));
    const throughput: Record<string, number> = {};
    for (const batching of ['on', 'off'] as const) {
      const { url, child } = await startServe(repo, batching === 'on' ? ['--max-batch', '32', '--max-delay-ms', '2', '--watch-ms', '0'] : ['--no-batching', '--watch-ms', '0']);
      try {
        for (const clients of CONCURRENCY) {
          await load(url, png, clients, WARMUP_S);
          const r = await load(url, png, clients, MEASURE_S);
          const sorted = [...r.latencies].sort((a, b) => a - b);
          const rps = r.latencies.length / r.seconds;
          throughput[`${batching}-${clients}`] = rps;
          const extra = { batching, clients, model: `mobile-s ${INPUT_SIZE}x${INPUT_SIZE}`, failed: r.failed };
          emit('requests per second', rps, 'req/s', extra);
          emit('p50 latency', pct(sorted, 50), 'ms', extra);
          emit('p99 latency', pct(sorted, 99), 'ms', extra);
        }
      } finally {
        await stop(child);
      }
    }
    const gain = throughput['on-32'] / throughput['off-32'];
    const ceiling = await modelOnlyGain(path.join(repo, '1', 'model.fp32.onnx'));
    emit('batching throughput gain at 32 clients', gain, 'x', { target: BATCHING_TARGET, met: gain >= BATCHING_TARGET, modelOnlyCeiling: Number(ceiling.toFixed(2)) });

    // hot swap under load: version 2 lands in the repository while 32 clients keep posting
    const { url, child } = await startServe(repo, ['--watch-ms', '200']);
    try {
      let swapped = false;
      const r = await load(url, png, 32, 2 * MEASURE_S, (s) => {
        if (!swapped && s > MEASURE_S / 2) {
          swapped = true;
          void exportStudent(repo, '2');
        }
      });
      emit('hot swap under load: failed requests', r.failed, 'requests', { clients: 32, answered: r.latencies.length, byVersion: r.versions, swappedTo2: (r.versions['2'] ?? 0) > 0 });
    } finally {
      await stop(child);
    }
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
}

await main();
