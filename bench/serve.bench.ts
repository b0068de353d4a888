// `fedkd serve` figures (issue 8 §6): requests/s and p50/p99 latency at 1, 8 and 32 concurrent
// clients on loopback with dynamic batching on and off, and a hot swap under load.
// The server is the real `fedkd serve` in a child process; the same flags both ways but
// batching (so the same ORT session options, the same decode workers). Two models: the
// mobile-s student at 64×64 (the demo) and at 224×224 (what a hospital would deploy), each
// sent a noisy grey PNG of its own size. Beside each figure: the 1-minute load average, and
// the CPU milliseconds the server (all its threads) and the clients spent per answered
// request, which other work on the cores does not inflate. One JSON line per figure.
// Batching is forced `--batching on` / `--batching off` for the sweep; the default `auto`'s
// warm-up decision is reported per model. FEDKD_SERVE_ARGS adds flags to every server started
// (e.g. `--ort-spinning` for ORT's spinning threads, off by default in `fedkd serve`).
// Run: `FEDKD_SERVE_CLIENTS=32 FEDKD_BENCH_SECONDS=3 npx tsx bench/serve.bench.ts` (or `npm run bench -- serve`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../core/rng.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel } from '../models/index.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { encodeGreyPng } from '../runtime/png.ts';
import { openSession } from '../runtime/session.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Input sizes served: the 64 px demo student and a clinically realistic 224 px one (FEDKD_SERVE_SIZES=64,224). */
const SIZES = (process.env.FEDKD_SERVE_SIZES ?? '64,224').split(',').map(Number);
/** Concurrent clients per point (FEDKD_SERVE_CLIENTS=32 measures only the target's point, to fit a quiet spell). */
const CONCURRENCY = (process.env.FEDKD_SERVE_CLIENTS ?? '1,8,32').split(',').map(Number);
/** Seconds of load per point, after a warm-up of WARMUP_S. */
const MEASURE_S = Number(process.env.FEDKD_BENCH_SECONDS ?? 5);
const WARMUP_S = 1;
/** The target: batching gives at least this much more throughput at 32 clients. */
const BATCHING_TARGET = 3;
const CLK_TCK = 100;
/** Flags added to every `fedkd serve` started (FEDKD_SERVE_ARGS, split on spaces). */
const EXTRA_ARGS = (process.env.FEDKD_SERVE_ARGS ?? '').split(' ').filter(Boolean);
/** ORT spinning in the model-only timing, as the servers run it. */
const SPINNING = EXTRA_ARGS.includes('--ort-spinning');

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const loadavg = Number(os.loadavg()[0].toFixed(2));
  process.stdout.write(`${JSON.stringify({ bench: 'serve', figure, value: Number(value.toPrecision(6)), unit, ...extra, loadavg })}\n`);
}

async function exportStudent(dir: string, version: string, size: number): Promise<void> {
  const model = buildModel('mobile-s', { inputSize: size, inputChannels: 1, numClasses: 2, widthMultiplier: 1 });
  mkdirSync(path.join(dir, version), { recursive: true });
  // write under a temporary name and rename, so the server's watcher never sees half a file
  const tmp = path.join(dir, `.v${version}.onnx`);
  writeFileSync(tmp, exportOnnx(model));
  await rename(tmp, path.join(dir, version, 'model.fp32.onnx'));
  model.dispose();
}

/** A radiograph-like test image: a bright disc on a gradient with noise, so the PNG does not compress to nothing. */
function testImage(size: number): Promise<Buffer> {
  const rng = new Rng(size);
  const px = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const disc = Math.hypot(x - size / 2, y - size / 2) < size / 3 ? 80 : 0;
      px[y * size + x] = Math.max(0, Math.min(255, Math.round(40 + (120 * y) / size + disc + 12 * rng.normal())));
    }
  }
  return encodeGreyPng(size, size, px);
}

/** A started `fedkd serve`: its URL, process and the `--json` ready line. */
interface Served {
  url: URL;
  child: ChildProcess;
  ready: { variants: { batching?: { batched: boolean; gain?: number; perImageMs?: { batch1: number; batchN: number } } }[] };
}

function startServe(models: string, args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'fedkd.js'), 'serve', '--models', models, '--port', '0', '--json', ...args, ...EXTRA_ARGS], {
    cwd: ROOT,
    env: { ...process.env, FEDKD_QUIET: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c) => {
      out += String(c);
      if (!out.includes('\n')) return;
      const ready = JSON.parse(out.split('\n')[0]) as Served['ready'] & { url: string };
      resolve({ url: new URL(ready.url), child, ready });
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

/** CPU seconds a process has used so far, all threads (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface LoadResult {
  latencies: number[];
  failed: number;
  seconds: number;
  versions: Record<string, number>;
  serverCpuS: number;
  clientCpuS: number;
}

/** `clients` loops POSTing the image over kept-alive connections for `seconds`; latencies in ms of the 200s, everything else failed. */
async function load(url: URL, pid: number, body: Buffer, clients: number, seconds: number, onTick?: (elapsedS: number) => void): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const post = () =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, path: '/v1/predict', method: 'POST', agent, headers: { 'content-type': 'image/png', 'content-length': body.length } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const latencies: number[] = [];
  const versions: Record<string, number> = {};
  let failed = 0;
  const [cpu0, client0, t0] = [cpuSeconds(pid), process.cpuUsage(), performance.now()];
  const end = t0 + seconds * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const s = performance.now();
      try {
        const r = await post();
        if (r.status !== 200) failed++;
        else {
          latencies.push(performance.now() - s);
          const v = (JSON.parse(r.text) as { version?: string }).version ?? '?';
          versions[v] = (versions[v] ?? 0) + 1;
        }
      } catch {
        failed++;
      }
      onTick?.((performance.now() - t0) / 1000);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const c = process.cpuUsage(client0);
  agent.destroy();
  return { latencies, failed, seconds: (performance.now() - t0) / 1000, versions, serverCpuS: cpuSeconds(pid) - cpu0, clientCpuS: (c.user + c.system) / 1e6 };
}

/** The model alone in ONNX Runtime, with the server's session options: per-image ms at batch 1 and 32 — the most batching can gain. */
async function modelOnlyGain(file: string, size: number): Promise<number> {
  const s = await openSession(file, { provider: 'cpu', spinning: SPINNING });
  const rng = new Rng(7);
  const perItem = async (batch: number, images: number) => {
    const feed = { input: { data: Float32Array.from({ length: batch * size * size }, () => rng.next()), dims: [batch, 1, size, size] } };
    for (let i = 0; i < 3; i++) await s.run(feed);
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    for (let i = 0; i < images / batch; i++) await s.run(feed);
    const c = process.cpuUsage(c0);
    return { ms: (performance.now() - t0) / images, cpuMs: (c.user + c.system) / 1000 / images };
  };
  const images = size > 100 ? 640 : 6400;
  const [b1, b32] = [await perItem(1, images), await perItem(32, images)];
  await s.release();
  const model = `mobile-s ${size}x${size}`;
  emit('model-only latency per image', b1.ms, 'ms', { model, batch: 1, spinning: SPINNING, cpuMs: Number(b1.cpuMs.toPrecision(3)) });
  emit('model-only latency per image', b32.ms, 'ms', { model, batch: 32, spinning: SPINNING, cpuMs: Number(b32.cpuMs.toPrecision(3)) });
  return b1.ms / b32.ms;
}

/** What `--batching auto` (the default) decides at warm-up for this model: the per-image gain of batch 32 over batch 1. */
async function autoDecision(repo: string, model: string): Promise<void> {
  const { child, ready } = await startServe(repo, ['--max-batch', '32', '--watch-ms', '0']);
  await stop(child);
  const d = ready.variants[0].batching;
  emit('auto batching: warm-up gain of batch 32 per image', d?.gain ?? NaN, 'x', { model, batched: d?.batched, perImageMs: d?.perImageMs });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Batching on and off at 1, 8, 32 clients for one model; returns req/s and CPU ms per request by point. */
async function sweep(repo: string, size: number, png: Buffer): Promise<void> {
  const model = `mobile-s ${size}x${size}`;
  const rps: Record<string, number> = {};
  const cpuMs: Record<string, number> = {};
  for (const batching of ['on', 'off'] as const) {
    const { url, child } = await startServe(repo, [...(batching === 'on' ? ['--batching', 'on', '--max-batch', '32', '--max-delay-ms', '2'] : ['--batching', 'off']), '--watch-ms', '0']);
    try {
      for (const clients of CONCURRENCY) {
        await load(url, child.pid as number, png, clients, WARMUP_S);
        const r = await load(url, child.pid as number, png, clients, MEASURE_S);
        const sorted = [...r.latencies].sort((a, b) => a - b);
        const n = Math.max(1, r.latencies.length);
        const key = `${batching}-${clients}`;
        rps[key] = r.latencies.length / r.seconds;
        cpuMs[key] = (1000 * (r.serverCpuS + r.clientCpuS)) / n;
        const extra = { batching, clients, model, failed: r.failed };
        emit('requests per second', rps[key], 'req/s', extra);
        emit('p50 latency', pct(sorted, 50), 'ms', extra);
        emit('p99 latency', pct(sorted, 99), 'ms', extra);
        emit('CPU per request', (1000 * r.serverCpuS) / n, 'ms', { ...extra, clientCpuMs: Number(((1000 * r.clientCpuS) / n).toFixed(3)) });
      }
    } finally {
      await stop(child);
    }
  }
  await autoDecision(repo, model);
  const ceiling = await modelOnlyGain(path.join(repo, '1', 'model.fp32.onnx'), size);
  if (!CONCURRENCY.includes(32)) return;
  const gain = rps['on-32'] / rps['off-32'];
  emit('batching throughput gain at 32 clients', gain, 'x', { model, target: BATCHING_TARGET, met: gain >= BATCHING_TARGET, modelOnlyCeiling: Number(ceiling.toFixed(2)) });
  emit('batching CPU-per-request gain at 32 clients', cpuMs['off-32'] / cpuMs['on-32'], 'x', { model, note: 'server + client CPU ms per request, off ÷ on' });
}

/** Hot swap under load: version 2 lands in the repository while 32 clients keep posting. */
async function hotSwap(repo: string, size: number, png: Buffer): Promise<void> {
  const { url, child } = await startServe(repo, ['--watch-ms', '200']);
  try {
    let swapped = false;
    const r = await load(url, child.pid as number, png, 32, 2 * MEASURE_S, (s) => {
      if (!swapped && s > MEASURE_S / 2) {
        swapped = true;
        void exportStudent(repo, '2', size);
      }
    });
    emit('hot swap under load: failed requests', r.failed, 'requests', { clients: 32, answered: r.latencies.length, byVersion: r.versions, swappedTo2: (r.versions['2'] ?? 0) > 0 });
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  await initBackend();
  const root = mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-serve-'));
  try {
    for (const size of SIZES) {
      const repo = path.join(root, String(size));
      await exportStudent(repo, '1', size);
      await sweep(repo, size, await testImage(size));
    }
    const repo = path.join(root, 'swap');
    await exportStudent(repo, '1', SIZES[0]);
    await hotSwap(repo, SIZES[0], await testImage(SIZES[0]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
