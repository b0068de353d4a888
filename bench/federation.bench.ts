// Federation figures (issue 5 §6): model transfer over loopback gRPC, aggregation throughput,
// and the coordinator's overhead per round. One JSON line per figure on stdout.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAgent } from '../client/agent.ts';
import type { SiteTrainer } from '../client/site-trainer.ts';
import { ToyTrainer } from '../client/toy-trainer.ts';
import { hashToken } from '../coordinator/auth.ts';
import { ContentStore } from '../coordinator/checkpoints.ts';
import { parseCoordinatorConfig } from '../coordinator/config.ts';
import { startCoordinator } from '../coordinator/server.ts';
import { fedAvg } from '../coordinator/strategies/fedavg.ts';
import { sumPool } from '../coordinator/strategies/parallel-sum.ts';
import { validateUpdate } from '../coordinator/validate.ts';
import { sha256 } from '../core/files.ts';
import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import { channelCredentials } from '../proto/credentials.ts';
import { GrpcLink } from '../proto/grpc-link.ts';
import type { PeerReply, PeerRequest } from './federation-peer.ts';
import { benchPayload } from './payload.ts';

const MB = 1024 * 1024;
/** The targets. */
const TRANSFER_TARGET_MBPS = 300;
const AGGREGATION_TARGET_GBPS = 5;
const OVERHEAD_TARGET = 0.05;

/** One figure; every line carries the load average, since the machine is shared. */
function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const load = Number(os.loadavg()[0].toFixed(2));
  process.stdout.write(`${JSON.stringify({ bench: 'federation', figure, value: Number(value.toPrecision(6)), unit, ...extra, loadavg1: load, cores: os.cpus().length })}\n`);
}

/** Wall and CPU milliseconds of `fn` (CPU: this process, all threads). */
async function timed(fn: () => unknown): Promise<{ wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c1.user + c1.system) / 1000 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function randomTensors(params: number, seed: number, parts = 8): NamedTensor[] {
  let x = seed >>> 0 || 1;
  const per = Math.floor(params / parts);
  return Array.from({ length: parts }, (_, i) => {
    const data = new Float32Array(i === parts - 1 ? params - per * (parts - 1) : per);
    for (let j = 0; j < data.length; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      data[j] = ((x >>> 0) / 4294967296 - 0.5) * 0.1;
    }
    return { name: `layer${i}/kernel`, shape: [data.length], dtype: 'float32' as const, data };
  });
}

/** The stand-in coordinator in its own process (bench/federation-peer.ts), and how to ask it for its CPU time. */
async function startPeer(bytes: number): Promise<{ port: number; cpuMs: () => Promise<number>; stop: () => Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./federation-peer.ts', import.meta.url)), { env: { ...process.env, FEDKD_PEER_BYTES: String(bytes) } });
  let waiting: { resolve: (m: PeerReply) => void; reject: (e: Error) => void } | null = null;
  child.on('message', (m: PeerReply) => waiting?.resolve(m));
  child.on('exit', (code) => waiting?.reject(new Error(`bench peer exited with ${code}`)));
  const next = (): Promise<PeerReply> => new Promise((resolve, reject) => (waiting = { resolve, reject }));
  const hello = await next();
  if (!('port' in hello)) throw new Error('bench peer did not report its port');
  const ask = async (): Promise<number> => {
    const reply = next();
    child.send('cpu' satisfies PeerRequest);
    const r = await reply;
    return 'cpuMs' in r ? r.cpuMs : NaN;
  };
  const stop = (): Promise<void> => new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.send('stop' satisfies PeerRequest);
  });
  return { port: hello.port, cpuMs: ask, stop };
}

interface TransferRun {
  wallMs: number;
  siteCpuMs: number;
  coordinatorCpuMs: number;
}

/**
 * Fetch and push of a 64 MB model between a site (this process) and a coordinator stand-in
 * (another process, as in a real federation) over loopback gRPC, plain text.
 * To profile both ends: `FEDKD_BENCH_ONLY=transfer node --cpu-prof --cpu-prof-dir=DIR
 * --import tsx bench/federation.bench.ts` (the peer is forked with this process's node
 * flags, so it writes its own profile; `--trace-gc` works the same way).
 */
async function transfer(): Promise<void> {
  const bytes = 64 * MB;
  const model = benchPayload(bytes, 3);
  const sha = sha256(model);
  const peer = await startPeer(bytes);
  const addr = `127.0.0.1:${peer.port}`;
  const link = new GrpcLink({ address: addr, siteId: 'bench', token: 't', credentials: channelCredentials(addr, 'insecure') });
  const run = async (fn: () => Promise<unknown>): Promise<TransferRun> => {
    const peer0 = await peer.cpuMs();
    const t = await timed(fn);
    return { wallMs: t.wallMs, siteCpuMs: t.cpuMs, coordinatorCpuMs: (await peer.cpuMs()) - peer0 };
  };
  const fetches: TransferRun[] = [];
  const pushes: TransferRun[] = [];
  for (let i = 0; i < 7; i++) {
    let got: Uint8Array = new Uint8Array(0);
    const f = await run(async () => (got = await link.fetchModel(sha)));
    const p = await run(() => link.pushResult({ round: 1, kind: 'train', numExamples: 1, metrics: {}, isDelta: false, baseSha256: sha, payload: got }));
    if (i > 0) {
      fetches.push(f);
      pushes.push(p);
    }
  }
  link.close();
  await peer.stop();
  const mbps = (ms: number): number => Number((bytes / MB / (ms / 1000)).toFixed(1));
  for (const [figure, runs] of [
    ['model_fetch_loopback', fetches],
    ['model_push_loopback', pushes],
  ] as const) {
    emit(figure, mbps(median(runs.map((r) => r.wallMs))), 'MB/s', {
      modelMB: bytes / MB,
      target: TRANSFER_TARGET_MBPS,
      bestMBps: mbps(Math.min(...runs.map((r) => r.wallMs))),
      // MB moved per CPU-second spent by each end (all threads of its process)
      siteMbPerCpuSecond: mbps(median(runs.map((r) => r.siteCpuMs))),
      coordinatorMbPerCpuSecond: mbps(median(runs.map((r) => r.coordinatorCpuMs))),
      includes: 'two processes; chunking, protobuf, sha256 on both ends, reassembly',
    });
  }
}

/** Median wall and CPU milliseconds of `fn` over `reps` runs after two warm-ups. */
async function medianRuns(fn: () => unknown, reps = 7): Promise<{ wallMs: number; cpuMs: number; bestMs: number }> {
  const runs: { wallMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < reps + 2; i++) {
    const r = await timed(fn);
    if (i > 1) runs.push(r);
  }
  return { wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)), bestMs: Math.min(...runs.map((r) => r.wallMs)) };
}

/**
 * FedAvg over 10 updates of 4M parameters each, loaded the way the coordinator loads them
 * (stored, then read into shared memory and unpacked as views: rounds.ts `aggregate`), so the
 * sum splits with the worker thread; the same updates in plain memory give the single-thread
 * figure. Then the validation each update passes first.
 */
async function aggregation(): Promise<void> {
  const store = new ContentStore(mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-agg-')));
  const plain = Array.from({ length: 10 }, (_, k) => ({ siteId: `s${k}`, numExamples: 100 + k, weights: randomTensors(4 * MB, k + 1) }));
  const shas = await Promise.all(plain.map((r) => store.put(packTensors(r.weights))));
  const results = await Promise.all(plain.map(async (r, k) => ({ ...r, weights: unpackTensors(await store.getShared(shas[k]), { view: true }) })));
  rmSync(store.dir, { recursive: true, force: true });
  const workerUp = await sumPool().ready();
  const bytes = 10 * 4 * MB * 4;
  const gbps = (ms: number): number => Number((bytes / 1e9 / (ms / 1000)).toFixed(2));
  for (const [figure, updates, threads] of [
    ['fedavg_aggregation', results, workerUp ? 2 : 1],
    ['fedavg_aggregation_single_thread', plain, 1],
  ] as const) {
    const avg = await medianRuns(() => fedAvg().aggregateFit([], updates, null));
    emit(figure, gbps(avg.wallMs), 'GB/s', {
      updates: 10,
      params: 4 * MB,
      threads,
      memory: updates === results ? 'SharedArrayBuffer, as the coordinator loads updates' : 'ArrayBuffer',
      wallMs: Number(avg.wallMs.toFixed(2)),
      cpuMs: Number(avg.cpuMs.toFixed(2)),
      bestGBps: gbps(avg.bestMs),
      gbPerCpuSecond: gbps(avg.cpuMs),
      target: AGGREGATION_TARGET_GBPS,
    });
  }
  const global = randomTensors(4 * MB, 99);
  const check = await medianRuns(() => results.forEach((r) => validateUpdate(global, r.weights)));
  emit('update_validation', gbps(check.wallMs), 'GB/s', { updates: 10, params: 4 * MB, bestGBps: gbps(check.bestMs), gbPerCpuSecond: gbps(check.cpuMs), checks: 'names, shapes, finite, norm' });
}

/** Records how long each fit took, per round. */
class TimedTrainer implements SiteTrainer {
  constructor(
    private readonly inner: SiteTrainer,
    readonly fitMs: Map<number, number>,
  ) {}
  datasetSize = (): Promise<number> => this.inner.datasetSize();
  capabilities = (): Promise<Record<string, string>> => this.inner.capabilities();
  evaluate: SiteTrainer['evaluate'] = (w, c) => this.inner.evaluate(w, c);
  fit: SiteTrainer['fit'] = async (w, c) => {
    const t0 = performance.now();
    const out = await this.inner.fit(w, c);
    this.fitMs.set(c.round, performance.now() - t0);
    return out;
  };
}

/** Round time minus the slowest site's training, over real gRPC with a 1M-parameter model and 3 sites. */
async function overhead(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-fed-'));
  const params = 1 << 20;
  const init = randomTensors(params, 9, 4);
  writeFileSync(path.join(dir, 'init.fkw'), packTensors(init));
  const rounds = 4;
  const config = parseCoordinatorConfig({
    insecure: true,
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: path.join(dir, 'state'),
    model: { initialWeights: path.join(dir, 'init.fkw') },
    rounds,
    sampling: { fraction: 1, minSites: 3, minResults: 3 },
    training: { localEpochs: 2 },
    evaluate: false,
  });
  const sites = ['a', 'b', 'c'];
  const running = await startCoordinator(config, new Map(sites.map((s) => [s, hashToken(`tok-${s}`)])));
  const addr = `127.0.0.1:${running.port}`;
  const trainers = sites.map((s, k) => new TimedTrainer(new ToyTrainer({ targets: randomTensors(params, 20 + k, 4).map((t) => t.data), numExamples: 100 * (k + 1), lr: 0.3, epochMs: 1000 + 250 * k }), new Map()));
  await Promise.all(
    sites.map((s, k) => runAgent({ siteId: s, link: new GrpcLink({ address: addr, siteId: s, token: `tok-${s}`, credentials: channelCredentials(addr, 'insecure') }), trainer: trainers[k] })),
  );
  const summaries = await running.finished;
  await running.stop();
  const fractions = summaries.map((s) => {
    const total = s.closedMs - s.startedMs;
    const slowest = Math.max(...trainers.map((t) => t.fitMs.get(s.round) ?? 0));
    return { round: s.round, totalMs: total, slowestFitMs: Math.round(slowest), overheadMs: Math.round(total - slowest), overhead: Number(((total - slowest) / total).toFixed(4)) };
  });
  // round 1 includes the sites' first registration; report the steady rounds and the worst
  const steady = fractions.slice(1);
  emit('coordinator_overhead_per_round', median(steady.map((f) => f.overhead)) * 100, '%', {
    target: OVERHEAD_TARGET * 100,
    overheadMs: median(steady.map((f) => f.overheadMs)),
    modelMB: (params * 4) / MB,
    sites: 3,
    longPollMs: config.longPollMs,
    rounds: fractions,
  });
}

// FEDKD_BENCH_ONLY=transfer,aggregation picks figures (all by default), e.g. for profiling one
const only = process.env.FEDKD_BENCH_ONLY?.split(',');
for (const [name, run] of [
  ['transfer', transfer],
  ['aggregation', aggregation],
  ['overhead', overhead],
] as const) {
  if (!only || only.includes(name)) await run();
}
