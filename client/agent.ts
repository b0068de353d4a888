import { UserError } from '../core/errors.ts';
import { info, warn } from '../core/log.ts';
import type { NamedTensor } from '../core/tensors.ts';
import type { CoordinatorLink } from '../proto/api.ts';
import { decodeWeights, encodeWeights } from '../proto/convert.ts';
import { isTransient, RpcError } from '../proto/errors.ts';
import type { ReceivedResult, RoundConfig, Task } from '../proto/types.ts';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { SitePruning } from './pruning.ts';
import type { SiteTrainer } from './site-trainer.ts';

/** What the agent did, for logs and tests. */
export type AgentEvent =
  | { type: 'registered'; runId: string }
  | { type: 'task'; task: Task }
  | { type: 'pushed'; round: number; kind: string; status: string }
  | { type: 'rejected'; round: number; reason: string }
  | { type: 'retry'; call: string; waitMs: number; reason: string };

/** How a site agent runs. */
export interface AgentOptions {
  siteId: string;
  link: CoordinatorLink;
  trainer: SiteTrainer;
  /** Send w − w_global instead of w (same information, often compresses better downstream). */
  sendDelta?: boolean;
  backoff?: BackoffPolicy;
  /** Stops the agent between calls. */
  signal?: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
}

/** What a site took part in, when the run is done. */
export interface AgentReport {
  trainedRounds: number[];
  evaluatedRounds: number[];
  /** Rounds whose calibrate task this site answered. */
  calibratedRounds?: number[];
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });

function seedOf(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

function delta(after: readonly NamedTensor[], before: readonly NamedTensor[]): NamedTensor[] {
  return after.map((w, i) => ({ ...w, data: w.data.map((v, j) => v - before[i].data[j]) }));
}

/**
 * The site agent a hospital runs (and simulation runs, over an in-process link): registers
 * (announcing `capabilities.calibrate: 'yes' | 'no'` beside the trainer's own capabilities),
 * then pulls tasks until the coordinator says done. Train: fetch the global model, run E
 * local epochs, push the weights. Evaluate: fetch the model, evaluate on the held-out split,
 * push the metrics. Only weights, example counts and metrics leave the site. When the
 * coordinator is away (restarting, network down) every call is retried with seeded
 * exponential backoff; pushes are idempotent per (round, site), so a retried push is never
 * counted twice.
 */
export async function runAgent(o: AgentOptions): Promise<AgentReport> {
  const policy = o.backoff ?? DEFAULT_BACKOFF;
  const emit = o.onEvent ?? (() => {});
  const report: AgentReport = { trainedRounds: [], evaluatedRounds: [] };
  let model: { sha: string; weights: NamedTensor[] } | null = null;

  const call = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const backoff = new Backoff(policy, seedOf(`${o.siteId}/${name}`));
    const start = Date.now();
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof RpcError && e.code === 'UNAUTHENTICATED') throw new UserError(`coordinator refused site ${o.siteId}: ${e.message}`);
        if (!isTransient(e) || o.signal?.aborted) throw e;
        if (Date.now() - start > policy.giveUpMs) throw new UserError(`coordinator unreachable for ${Math.round((Date.now() - start) / 1000)} s: ${(e as Error).message}`);
        const waitMs = backoff.delay();
        emit({ type: 'retry', call: name, waitMs, reason: (e as Error).message });
        await sleep(waitMs, o.signal);
      }
    }
  };

  // after federated pruning, models and results travel compact (client/pruning.ts)
  const pruning = new SitePruning();
  const fetchModel = async (sha: string, config: RoundConfig | null): Promise<NamedTensor[]> => {
    if (model?.sha !== sha) model = { sha, weights: pruning.toFull(decodeWeights(await call('fetchModel', () => o.link.fetchModel(sha))), config) };
    return model.weights;
  };

  const push = async (result: ReceivedResult): Promise<void> => {
    try {
      const r = await call('pushResult', () => o.link.pushResult(result));
      emit({ type: 'pushed', round: result.round, kind: result.kind, status: r.status });
    } catch (e) {
      if (!(e instanceof RpcError) || e.code !== 'INVALID_ARGUMENT') throw e;
      warn(`site ${o.siteId}: round ${result.round} ${result.kind} result rejected: ${e.message}`);
      emit({ type: 'rejected', round: result.round, reason: e.message });
    }
  };

  // the coordinator asks only sites that can calibrate (coordinator/calibration-phase.ts)
  const capabilities = { ...(await o.trainer.capabilities()), calibrate: o.trainer.calibrate ? 'yes' : 'no' };
  const registration = { datasetSize: await o.trainer.datasetSize(), capabilities };
  const reg = await call('register', () => o.link.register(registration));
  emit({ type: 'registered', runId: reg.runId });
  info(`site ${o.siteId}: registered with run ${reg.runId}`);

  while (!o.signal?.aborted) {
    const task = await call('pullTask', () => o.link.pullTask());
    emit({ type: 'task', task });
    if (task.kind === 'done') break;
    // a calibrate task reaches a site that cannot calibrate only from a coordinator that ignores `calibrate: 'no'`
    if (task.kind === 'wait' || (task.kind === 'calibrate' && !o.trainer.calibrate)) {
      await sleep(task.retryAfterMs || 500, o.signal);
      continue;
    }
    const global = await fetchModel(task.modelSha256, task.config);
    const beat = setInterval(() => void o.link.heartbeat(task.round).catch(() => undefined), reg.heartbeatMs);
    try {
      if (task.kind === 'train') {
        const fitStart = performance.now();
        const out = await o.trainer.fit(global, task.config ?? { round: task.round, localEpochs: 3 });
        // local training time, so the coordinator can tell its own overhead from the sites' work
        out.metrics = { fitSeconds: (performance.now() - fitStart) / 1000, ...out.metrics, ...pruning.scoreMetrics(out.weights, task.config) };
        const payload = encodeWeights(pruning.toWire(o.sendDelta ? delta(out.weights, global) : out.weights, task.config));
        await push({ round: task.round, kind: 'train', numExamples: out.numExamples, metrics: out.metrics, isDelta: Boolean(o.sendDelta), baseSha256: task.modelSha256, payload });
        report.trainedRounds.push(task.round);
      } else if (task.kind === 'calibrate') {
        const out = await o.trainer.calibrate!(global, task.config);
        await push({ round: task.round, kind: 'calibrate', numExamples: out.numExamples, metrics: {}, isDelta: false, baseSha256: task.modelSha256, payload: encodeWeights(out.stats) });
        (report.calibratedRounds ??= []).push(task.round);
      } else {
        const out = await o.trainer.evaluate(global, task.config);
        await push({ round: task.round, kind: 'evaluate', numExamples: out.numExamples, metrics: out.metrics, isDelta: false, baseSha256: task.modelSha256, payload: new Uint8Array(0) });
        report.evaluatedRounds.push(task.round);
      }
    } finally {
      clearInterval(beat);
    }
  }
  pruning.dispose();
  return report;
}
