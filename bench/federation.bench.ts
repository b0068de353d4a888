// Federation figures (issue 5 §6): model transfer over loopback gRPC, aggregation throughput,
// and the coordinator's overhead per round. One JSON line per figure on stdout.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAgent } from '../client/agent.ts';
import type { SiteTrainer } from '../client/site-trainer.ts';
import { ToyTrainer } from '../client/toy-trainer.ts';
import { hashToken } from '../coordinator/auth.ts';
import { parseCoordinatorConfig } from '../coordinator/config.ts';
import { startCoordinator } from '../coordinator/server.ts';
import { fedAvg } from '../coordinator/strategies/fedavg.ts';
import { sha256 } from '../core/files.ts';
import { packTensors, type NamedTensor } from '../core/tensors.ts';
import type { FederationService } from '../proto/api.ts';
import { channelCredentials, serverCredentials } from '../proto/credentials.ts';
import { GrpcLink } from '../proto/grpc-link.ts';
import { serveFederation } from '../proto/grpc-server.ts';

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

/** Fetch and push of a 64 MB model between a site and a coordinator stand-in over loopback gRPC. */
async function transfer(): Promise<void> {
  const model = packTensors(randomTensors(16 * MB, 3));
  const sha = sha256(model);
  const ok = async (): Promise<void> => {};
  const service: FederationService = {
    authenticate: ok,
    register: async () => ({ runId: 'bench', heartbeatMs: 1000 }),
    pullTask: async () => ({ kind: 'wait', round: 0, modelSha256: '', config: null, retryAfterMs: 0 }),
    fetchModel: async () => model,
    pushResult: async () => ({ status: 'accepted', detail: '' }),
    heartbeat: async () => ({ serverTimeMs: Date.now() }),
  };
  const server = await serveFederation(service, { host: '127.0.0.1', port: 0, credentials: serverCredentials('127.0.0.1', 'insecure') });
  const addr = `127.0.0.1:${server.port}`;
  const link = new GrpcLink({ address: addr, siteId: 'bench', token: 't', credentials: channelCredentials(addr, 'insecure') });
  const fetches: { wallMs: number; cpuMs: number }[] = [];
  const pushes: { wallMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < 6; i++) {
    let got: Uint8Array = new Uint8Array(0);
    const f = await timed(async () => (got = await link.fetchModel(sha)));
    const p = await timed(() => link.pushResult({ round: 1, kind: 'train', numExamples: 1, metrics: {}, isDelta: false, baseSha256: sha, payload: got }));
    if (i > 0) {
      fetches.push(f);
      pushes.push(p);
    }
  }
  link.close();
  await server.stop();
  const mbps = (ms: number): number => Number((model.length / MB / (ms / 1000)).toFixed(1));
  for (const [figure, runs] of [
    ['model_fetch_loopback', fetches],
    ['model_push_loopback', pushes],
  ] as const) {
    emit(figure, mbps(median(runs.map((r) => r.wallMs))), 'MB/s', {
      modelMB: model.length / MB,
      target: TRANSFER_TARGET_MBPS,
      // both ends run in this process: MB per CPU-second of sender + receiver together
      mbPerCpuSecondBothEnds: mbps(median(runs.map((r) => r.cpuMs))),
      includes: 'chunking, protobuf, sha256 check, reassembly',
    });
  }
}

/** FedAvg over 10 updates of 4M parameters each. */
async function aggregation(): Promise<void> {
  const results = Array.from({ length: 10 }, (_, k) => ({ siteId: `s${k}`, numExamples: 100 + k, weights: randomTensors(4 * MB, k + 1) }));
  const bytes = 10 * 4 * MB * 4;
  const runs: { wallMs: number; cpuMs: number }[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await timed(() => fedAvg().aggregateFit([], results, null));
    if (i > 1) runs.push(r);
  }
  const wall = median(runs.map((r) => r.wallMs));
  const cpu = median(runs.map((r) => r.cpuMs));
  emit('fedavg_aggregation', bytes / 1e9 / (wall / 1000), 'GB/s', {
    updates: 10,
    params: 4 * MB,
    wallMs: Number(wall.toFixed(2)),
    cpuMs: Number(cpu.toFixed(2)),
    gbPerCpuSecond: Number((bytes / 1e9 / (cpu / 1000)).toFixed(2)),
    target: AGGREGATION_TARGET_GBPS,
  });
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

await transfer();
await aggregation();
await overhead();
