import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import { warn } from '../core/log.ts';
import { decodeWeights } from '../proto/convert.ts';
import { RpcError } from '../proto/errors.ts';
import type { PushReply, ReceivedResult, Task } from '../proto/types.ts';
import type { CalibrationPhase } from './calibration-phase.ts';
import type { ContentStore } from './checkpoints.ts';
import type { CoordinatorConfig } from './config.ts';
import type { FederatedPruning } from './pruning.ts';
import { bySite } from './evaluation.ts';
import { sampleSites } from './sampling.ts';
import type { RoundRow, StateStore } from './store.ts';
import { roundSummary, type RoundSummary } from './summary.ts';
import type { FitResult, Strategy } from './strategies/strategy.ts';
import { applyDelta, validateUpdate } from './validate.ts';
import type { PruneMasks } from '../prune/masks.ts';
import { PRUNE_MASKS_KEY } from '../prune/wire.ts';

export type { RoundSummary } from './summary.ts';

/** The parts of the config that drive rounds. */
export type RoundSettings = Pick<CoordinatorConfig, 'seed' | 'rounds' | 'sampling' | 'deadlines' | 'training' | 'validation' | 'evaluate' | 'pollMs'>;

/**
 * The round state machine, driven by calls and a timer. A round samples sites, collects
 * their training results until all arrived or the deadline passed with enough of them,
 * aggregates with the strategy, then (optionally) collects every live site's evaluation of
 * the new model. All state lives in the StateStore and the ContentStore, written before
 * any reply, so a fresh engine over the same files continues the same run.
 * Operations run one at a time (a promise queue), so no two of them interleave.
 */
export class RoundEngine {
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private waiters = new Set<() => void>();
  private decoded: { sha: string; tensors: NamedTensor[] } | null = null;
  private calibration: CalibrationPhase | null = null;

  constructor(
    private readonly s: RoundSettings,
    private readonly strategy: Strategy,
    private readonly store: StateStore,
    private readonly content: ContentStore,
    private readonly initialModel: string,
    private readonly now: () => number = Date.now,
    private readonly onRoundClosed: (summary: RoundSummary) => void | Promise<void> = () => {},
    /** Federated pruning (issue 6 §3), when the config has a `pruning` block. */
    private readonly pruning: FederatedPruning | null = null,
  ) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Moves the run on: start, close or extend rounds as time and results allow. */
  tick(): Promise<void> {
    return this.serial(async () => {
      if (!this.stopped) await this.advance();
    });
  }

  /** Stops scheduled work (before the store closes) and releases waiting calls. */
  stop(): void {
    this.stopped = true;
    this.notify();
  }

  /** Resolves when the run's state next changes (a round starts, closes a phase, is extended) or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Runs federated calibration of the final model after the last round (the config's `quantize` block). */
  attachCalibration(phase: CalibrationPhase): void {
    this.calibration = phase;
  }

  /** True once the last round is closed and, with calibration attached, calibration is complete. */
  finished(): boolean {
    return this.trainingFinished() && (this.calibration?.complete() ?? true);
  }

  /** True once the last round is closed. */
  trainingFinished(): boolean {
    const last = this.store.lastRound();
    return last !== null && last.round >= this.s.rounds && last.phase === 'closed';
  }

  /** The sha256 of the newest global model. */
  currentModel(): string {
    const closed = this.store.rounds().filter((r) => r.modelOut);
    return closed.at(-1)?.modelOut ?? this.initialModel;
  }

  /** The global models sites may fetch: the initial one and every round's output. */
  publishedModels(): Set<string> {
    return new Set([this.initialModel, ...this.store.rounds().flatMap((r) => (r.modelOut ? [r.modelOut] : [])), ...(this.pruning?.published() ?? [])]);
  }

  /** The next task for a site. */
  taskFor(siteId: string): Promise<Task> {
    return this.serial(async () => {
      await this.advance();
      const wait: Task = { kind: 'wait', round: 0, modelSha256: '', config: null, retryAfterMs: this.s.pollMs };
      if (this.finished()) return { ...wait, kind: 'done', round: this.s.rounds, modelSha256: this.currentModel(), retryAfterMs: 0 };
      if (this.calibration && this.trainingFinished()) return this.calibration.taskFor(siteId, this.currentModel(), this.s.pollMs);
      const r = this.store.lastRound();
      if (!r) return wait;
      const answered = (kind: 'train' | 'evaluate'): boolean => this.store.results(r.round, kind).some((x) => x.siteId === siteId && x.status !== 'late');
      if (r.phase === 'train' && r.sampled.includes(siteId) && !answered('train'))
        return { kind: 'train', round: r.round, ...(await this.wireTask(r.modelIn, r.round - 1)), config: { ...r.config, round: r.round, localEpochs: Number(r.config.localEpochs), ...this.pruning?.trainKeys(r.round) }, retryAfterMs: 0 };
      if (r.phase === 'evaluate' && r.evalSites.includes(siteId) && !answered('evaluate')) {
        const { modelSha256, masks } = await this.wireTask(r.modelOut!, r.round);
        const config = { ...r.config, round: r.round, localEpochs: Number(r.config.localEpochs), ...(masks ? { [PRUNE_MASKS_KEY]: masks } : {}) };
        return { kind: 'evaluate', round: r.round, modelSha256, config, retryAfterMs: 0 };
      }
      return { ...wait, round: r.round };
    });
  }

  /** The model a task names: the full one, or its compact form once masks computed after `masksRound` are in force. */
  private async wireTask(full: string, masksRound: number): Promise<{ modelSha256: string; masks?: PruneMasks }> {
    const masks = this.pruning?.masksAfter(masksRound);
    return masks ? { modelSha256: await this.pruning!.wireModel(full, masks), masks } : { modelSha256: full };
  }

  /** Takes a pushed result: accepted, duplicate (already counted) or late (recorded, ignored); a bad update throws INVALID_ARGUMENT. */
  receive(siteId: string, result: ReceivedResult): Promise<PushReply> {
    return this.serial(async () => {
      await this.advance();
      const reply = await this.accept(siteId, result);
      setImmediate(() => void this.tick().catch((e) => warn(`round engine: ${(e as Error).message}`)));
      return reply;
    });
  }

  private async accept(siteId: string, res: ReceivedResult): Promise<PushReply> {
    const now = this.now();
    if (res.kind === 'calibrate' && this.calibration) return this.calibration.accept(siteId, res, this.currentModel(), now);
    if (this.store.acceptedResult(res.round, siteId, res.kind)) {
      this.store.audit(siteId, 'push-duplicate', `round ${res.round} ${res.kind}`, now);
      return { status: 'duplicate', detail: `round ${res.round} ${res.kind} result already accepted` };
    }
    const row = this.store.rounds().find((r) => r.round === res.round);
    const lateReason = this.lateReason(row, siteId, res);
    // the bytes a site pushed, so round summaries show the wire shrinking after pruning
    const metrics = res.kind === 'train' ? { ...res.metrics, pushBytes: res.payload.length } : res.metrics;
    const base = { round: res.round, siteId, kind: res.kind, numExamples: res.numExamples, metrics, receivedMs: now };
    if (lateReason) {
      this.store.transaction(() => {
        this.store.insertResult({ ...base, status: 'late', payloadSha: null, detail: lateReason });
        this.store.audit(siteId, 'push-late', `round ${res.round} ${res.kind}: ${lateReason}`, now);
      });
      return { status: 'late', detail: lateReason };
    }
    let payloadSha: string | null = null;
    if (res.kind === 'train') payloadSha = await this.acceptWeights(siteId, row!, res, base);
    this.store.transaction(() => {
      this.store.insertResult({ ...base, status: 'accepted', payloadSha, detail: '' });
      if (payloadSha) this.store.insertCheckpoint(payloadSha, res.round, `update:${siteId}`, now);
      this.store.audit(siteId, 'push', `round ${res.round} ${res.kind}, ${res.numExamples} examples${payloadSha ? `, update ${payloadSha}` : ''}`, now);
    });
    return { status: 'accepted', detail: `round ${res.round} ${res.kind} result accepted` };
  }

  private lateReason(row: RoundRow | undefined, siteId: string, res: ReceivedResult): string | null {
    if (!row) return `round ${res.round} has not started`;
    // with a calibration phase attached, calibrate results never get here (CalibrationPhase.accept)
    if (res.kind === 'calibrate') return `no calibration phase runs in round ${res.round}`;
    const phase = res.kind === 'train' ? 'train' : 'evaluate';
    if (row.phase !== phase) return `round ${res.round} is past its ${phase} phase`;
    const expected = phase === 'train' ? row.sampled : row.evalSites;
    if (!expected.includes(siteId)) return `site was not asked to ${phase} in round ${res.round}`;
    if (phase === 'train' && !(this.pruning?.sameModel(res.baseSha256, row.modelIn) ?? res.baseSha256 === row.modelIn)) return `trained from model ${res.baseSha256.slice(0, 12)}, round ${res.round} started from ${row.modelIn.slice(0, 12)}`;
    return null;
  }

  /** Validates a training result; stores its absolute weights and returns their sha256, or records a rejection and throws. */
  private async acceptWeights(siteId: string, row: RoundRow, res: ReceivedResult, base: Omit<Parameters<StateStore['insertResult']>[0], 'status' | 'payloadSha' | 'detail'>): Promise<string> {
    const reject = (reason: string): never => {
      this.store.transaction(() => {
        this.store.insertResult({ ...base, status: 'rejected', payloadSha: null, detail: reason });
        this.store.audit(siteId, 'push-rejected', `round ${res.round}: ${reason}`, base.receivedMs);
      });
      warn(`rejected the update of site ${siteId} in round ${res.round}: ${reason}`);
      throw new RpcError('INVALID_ARGUMENT', `update rejected: ${reason}`);
    };
    if (!(res.numExamples > 0)) reject('a training result needs a positive number of examples');
    let weights: NamedTensor[] = [];
    try {
      weights = decodeWeights(res.payload);
    } catch (e) {
      reject((e as Error).message);
    }
    const global = await this.globalTensors(row.modelIn);
    const compact = this.pruning?.masksAfter(res.round - 1) !== undefined;
    if (compact) {
      try {
        weights = this.pruning!.fullWeights(res.round, weights);
      } catch (e) {
        reject(`compact weights do not fit the masks: ${(e as Error).message}`);
      }
    }
    if (res.isDelta) weights = applyDelta(global, weights);
    const verdict = validateUpdate(global, weights, this.s.validation.maxUpdateNorm);
    if (!verdict.ok) reject(verdict.reason);
    return this.content.put(res.isDelta || compact ? packTensors(weights) : res.payload);
  }

  private async globalTensors(sha: string): Promise<NamedTensor[]> {
    if (this.decoded?.sha !== sha) this.decoded = { sha, tensors: unpackTensors(await this.content.get(sha)) };
    return this.decoded.tensors;
  }

  private async advance(): Promise<void> {
    for (;;) {
      const now = this.now();
      const last = this.store.lastRound();
      if (!last || last.phase === 'closed') {
        if (this.startRound(last, now)) continue;
        if (!(this.calibration && this.trainingFinished() && (await this.calibration.advance(now, this.liveSites(now))))) return;
        this.notify();
      } else if (last.phase === 'train') {
        if (!(await this.maybeCloseTraining(last, now))) return;
      } else if (!(await this.maybeCloseEvaluation(last, now))) return;
    }
  }

  private liveSites(now: number): string[] {
    return this.store.sitesSeenSince(now - this.s.deadlines.siteTimeoutSeconds * 1000);
  }

  private startRound(last: RoundRow | null, now: number): boolean {
    const round = (last?.round ?? 0) + 1;
    if (round > this.s.rounds) return false;
    const live = this.liveSites(now);
    if (live.length < this.s.sampling.minSites) return false;
    const sampled = sampleSites(live, this.s.sampling.fraction, this.s.sampling.minSites, this.s.seed, round);
    const config = this.strategy.configureFit({ ...this.s.training, round, localEpochs: this.s.training.localEpochs });
    const modelIn = last?.modelOut ?? this.initialModel;
    this.store.transaction(() => {
      this.store.insertRound({ round, modelIn, config, sampled, startedMs: now, deadlineMs: now + this.s.deadlines.roundSeconds * 1000 });
      this.store.audit('coordinator', 'round-start', `round ${round}: sampled ${sampled.join(', ')} of ${live.length} live sites`, now);
    });
    this.notify();
    return true;
  }

  private async maybeCloseTraining(r: RoundRow, now: number): Promise<boolean> {
    const accepted = this.store.results(r.round, 'train', 'accepted');
    const allIn = r.sampled.every((s) => accepted.some((a) => a.siteId === s));
    if (!allIn && now < r.deadlineMs) return false;
    if (!allIn && accepted.length < this.s.sampling.minResults) {
      const widened = [...new Set([...r.sampled, ...this.liveSites(now)])].sort();
      const deadline = now + this.s.deadlines.roundSeconds * 1000;
      this.store.transaction(() => {
        this.store.extendRound(r.round, widened, deadline);
        this.store.audit('coordinator', 'round-extended', `round ${r.round}: ${accepted.length} of ${this.s.sampling.minResults} results by the deadline; sample now ${widened.join(', ')}`, now);
      });
      warn(`round ${r.round}: only ${accepted.length} of ${this.s.sampling.minResults} results by the deadline; extended`);
      this.notify();
      return false;
    }
    await this.aggregate(r, accepted, now);
    return true;
  }

  private async aggregate(r: RoundRow, arrived: ReturnType<StateStore['results']>, now: number): Promise<void> {
    const global = await this.globalTensors(r.modelIn);
    // in site order: a run whose sites answer in another order reaches the same model
    const accepted = bySite(arrived);
    const results: FitResult[] = [];
    // views into shared memory, so the strategy's weighted sum can split the work with a worker thread
    for (const a of accepted) results.push({ siteId: a.siteId, numExamples: a.numExamples, weights: unpackTensors(await this.content.getShared(a.payloadSha!), { view: true }) });
    const prev = this.store.rounds().filter((x) => x.round < r.round).at(-1)?.stateOut ?? null;
    const prevState = prev ? unpackTensors(await this.content.get(prev)) : null;
    const out = this.strategy.aggregateFit(global, results, prevState);
    const pruned = this.pruning?.afterAggregate(r.round, out.weights, accepted.map((a) => a.metrics));
    const modelOut = await this.content.put(packTensors(pruned?.weights ?? out.weights));
    const stateOut = out.state ? await this.content.put(packTensors(out.state)) : null;
    const evalSites = this.s.evaluate ? this.liveSites(now) : [];
    this.store.transaction(() => {
      this.store.insertCheckpoint(modelOut, r.round, 'global', now);
      if (stateOut) this.store.insertCheckpoint(stateOut, r.round, 'server-state', now);
      if (pruned?.masks) this.pruning!.recordMasks(r.round, pruned.masks);
      this.store.finishTraining(r.round, modelOut, stateOut, evalSites, this.s.evaluate ? now + this.s.deadlines.evaluateSeconds * 1000 : null, now);
      this.store.audit('coordinator', 'round-aggregated', `round ${r.round}: ${results.length} updates → model ${modelOut}`, now);
    });
    this.notify();
    if (!this.s.evaluate) await this.close(r.round, now);
  }

  private async maybeCloseEvaluation(r: RoundRow, now: number): Promise<boolean> {
    const evals = this.store.results(r.round, 'evaluate', 'accepted');
    const allIn = r.evalSites.every((s) => evals.some((e) => e.siteId === s));
    if (!allIn && now < (r.evalDeadlineMs ?? 0)) return false;
    await this.close(r.round, now);
    return true;
  }

  private async close(round: number, now: number): Promise<void> {
    const r = this.store.rounds().find((x) => x.round === round)!;
    const evals = this.s.evaluate ? this.store.results(round, 'evaluate', 'accepted') : null;
    const summary = roundSummary(r, this.store.results(round, 'train'), evals, now);
    summary.modelBytes = (await this.content.get(await this.wireTask(r.modelIn, round - 1).then((t) => t.modelSha256))).length;
    if (this.pruning) summary.pruning = this.pruning.summary(round);
    this.store.transaction(() => {
      this.store.closeRound(round, summary as unknown as Record<string, unknown>, now);
      this.store.audit('coordinator', 'round-close', `round ${round}: mean AUC ${summary.evaluation?.meanAuc ?? 'n/a'}`, now);
    });
    this.notify();
    await this.onRoundClosed(summary);
  }

  /** Summaries of the closed rounds, in order. */
  summaries(): RoundSummary[] {
    return this.store
      .rounds()
      .filter((r) => r.summary)
      .map((r) => r.summary as unknown as RoundSummary);
  }
}
