import { warn } from '../core/log.ts';
import type { NamedTensor } from '../core/tensors.ts';
import { decodeWeights } from '../proto/convert.ts';
import { RpcError } from '../proto/errors.ts';
import type { PushReply, ReceivedResult, Task } from '../proto/types.ts';
import type { CalibrationRequest } from '../quantize/calibration/federated.ts';
import type { TensorRange } from '../quantize/calibration/histogram.ts';
import { FederatedCalibrator } from './calibration.ts';
import type { ContentStore } from './checkpoints.ts';
import type { QuantizeSettings } from './config.ts';
import type { StateStore } from './store.ts';

/** Where federated calibration stands, as stored in the meta table (key `calibration`). */
export interface CalibrationState {
  phase: 'ranges' | 'histograms' | 'complete';
  /** Sites asked in the current phase. */
  sites: string[];
  deadlineMs: number;
  /** Deadlines the current phase passed without a single answer (absent: 0). */
  missed?: number;
  /** Set when calibration completed without ranges: why (no site can calibrate, nobody answered). */
  skipped?: string;
}

/** A site can calibrate unless it registered `capabilities.calibrate: 'no'` (older clients send no key: counted as able). */
export function canCalibrate(capabilities: Readonly<Record<string, string>> | undefined): boolean {
  return capabilities?.calibrate !== 'no';
}

const PHASES = ['ranges', 'histograms'] as const;
const META = 'calibration';

/**
 * Federated calibration of the final global model, run by the round engine after the last
 * round (Jacob et al. 2018 ranges; histogram phase for Percentile/Entropy). Phase k of
 * ['ranges', 'histograms'] is task round `lastRound + 1 + k`, so a site's answer is one
 * accepted `calibrate` result per (round, site), never counted twice. Only sites that can
 * calibrate (canCalibrate of their registration) are asked; with none live, or no answer in
 * `maxMissedDeadlines` deadlines of a phase, calibration completes as skipped (no INT8
 * student), so a run never waits forever. Results, the phase and a skip decision live in
 * SQLite and the content store; after a restart the FederatedCalibrator is rebuilt from the
 * stored results, so a killed coordinator resumes the same calibration (or the same skip).
 */
export class CalibrationPhase {
  private cal: FederatedCalibrator | null = null;

  constructor(
    private readonly q: QuantizeSettings,
    private readonly store: StateStore,
    private readonly content: ContentStore,
    private readonly lastRound: number,
    private readonly deadlineSeconds: number,
    /** The coordinator's `training` section: sites build the student from these keys (as for train tasks). */
    private readonly training: Record<string, unknown> = {},
  ) {}

  /** The stored state, or null before calibration started. */
  state(): CalibrationState | null {
    const s = this.store.getMeta(META);
    return s ? (JSON.parse(s) as CalibrationState) : null;
  }

  /** True once calibration is over: ranges final, or skipped. */
  complete(): boolean {
    return this.state()?.phase === 'complete';
  }

  /** Why calibration was skipped, or null (not skipped, or not over yet). */
  skipped(): string | null {
    const st = this.state();
    return st?.phase === 'complete' ? (st.skipped ?? null) : null;
  }

  /** The live sites that can calibrate. */
  private able(live: readonly string[]): string[] {
    return live.filter((id) => canCalibrate(this.store.site(id)?.capabilities));
  }

  private roundOf(phase: 'ranges' | 'histograms'): number {
    return this.lastRound + 1 + PHASES.indexOf(phase);
  }

  /** The calibrator as the stored results make it (rebuilt once per process). */
  private async calibrator(): Promise<FederatedCalibrator> {
    if (this.cal) return this.cal;
    const skipped = this.skipped();
    if (skipped !== null) throw new Error(`federated calibration was skipped: ${skipped}`);
    const c = new FederatedCalibrator({ method: this.q.method, percentile: this.q.percentile, bins: this.q.bins });
    const st = this.state();
    const reached = st ? (st.phase === 'complete' ? PHASES.length : PHASES.indexOf(st.phase)) : 0;
    for (let k = 0; k <= reached && k < PHASES.length && c.request(); k++) {
      for (const r of this.store.results(this.lastRound + 1 + k, 'calibrate', 'accepted')) c.receive(r.siteId, await this.content.get(r.payloadSha!), r.numExamples);
      if (k < reached) c.closePhase();
    }
    this.cal = c;
    return c;
  }

  /** The calibrate task for a site, or a wait when it answered (or was not asked). */
  async taskFor(siteId: string, modelSha: string, pollMs: number): Promise<Task> {
    const st = this.state();
    const wait: Task = { kind: 'wait', round: this.lastRound, modelSha256: '', config: null, retryAfterMs: pollMs };
    if (!st || st.phase === 'complete' || !st.sites.includes(siteId)) return wait;
    const round = this.roundOf(st.phase);
    if (this.store.acceptedResult(round, siteId, 'calibrate')) return { ...wait, round };
    const config = { ...this.training, ...(await this.calibrator()).taskConfig(round) };
    return { kind: 'calibrate', round, modelSha256: modelSha, config, retryAfterMs: 0 };
  }

  /** Takes a site's calibrate result: accepted (stored before the reply), duplicate or late; malformed statistics throw INVALID_ARGUMENT. */
  async accept(siteId: string, res: ReceivedResult, modelSha: string, now: number): Promise<PushReply> {
    const base = { round: res.round, siteId, kind: res.kind, numExamples: res.numExamples, metrics: res.metrics, receivedMs: now };
    if (this.store.acceptedResult(res.round, siteId, 'calibrate')) {
      this.store.audit(siteId, 'push-duplicate', `round ${res.round} calibrate`, now);
      return { status: 'duplicate', detail: `round ${res.round} calibrate result already accepted` };
    }
    const st = this.state();
    let late: string | null = null;
    if (!st || st.phase === 'complete') late = 'no calibration phase is running';
    else if (res.round !== this.roundOf(st.phase)) late = `calibration is in its ${st.phase} phase (round ${this.roundOf(st.phase)})`;
    else if (!st.sites.includes(siteId)) late = `site was not asked to calibrate in round ${res.round}`;
    else if (res.baseSha256 !== modelSha) late = `calibrated model ${res.baseSha256.slice(0, 12)}, not the final model ${modelSha.slice(0, 12)}`;
    if (late) {
      this.store.transaction(() => {
        this.store.insertResult({ ...base, status: 'late', payloadSha: null, detail: late });
        this.store.audit(siteId, 'push-late', `round ${res.round} calibrate: ${late}`, now);
      });
      return { status: 'late', detail: late };
    }
    const cal = await this.calibrator();
    this.check(siteId, res, cal.request()!);
    const sha = await this.content.put(res.payload);
    this.store.transaction(() => {
      this.store.insertResult({ ...base, status: 'accepted', payloadSha: sha, detail: '' });
      this.store.insertCheckpoint(sha, res.round, `calibration:${siteId}`, now);
      this.store.audit(siteId, 'push', `round ${res.round} calibrate (${st!.phase}), ${res.numExamples} examples, statistics ${sha}`, now);
    });
    cal.receive(siteId, res.payload, res.numExamples);
    return { status: 'accepted', detail: `round ${res.round} calibrate result accepted` };
  }

  /** Statistics must be the phase's kind and shape: ranges [min, max]; histograms [hi, min, max, 2·bins counts]. */
  private check(siteId: string, res: ReceivedResult, req: CalibrationRequest): void {
    let stats: NamedTensor[] = [];
    let reason: string | null = null;
    try {
      stats = decodeWeights(res.payload);
    } catch (e) {
      reason = (e as Error).message;
    }
    const prefix = req.phase === 'ranges' ? 'range/' : 'hist/';
    const len = req.phase === 'ranges' ? 2 : 3 + 2 * req.bins;
    const bad = stats.find((t) => !t.name.startsWith(prefix) || t.data.length !== len || !t.data.every(Number.isFinite));
    if (!reason && (stats.length === 0 || bad)) reason = `calibration statistics must be ${prefix}<tensor> of ${len} finite values${bad ? ` (${bad.name})` : ''}`;
    if (!reason && !(res.numExamples > 0)) reason = 'a calibrate result needs a positive number of examples';
    if (!reason) return;
    this.store.transaction(() => {
      this.store.insertResult({ round: res.round, siteId, kind: 'calibrate', numExamples: res.numExamples, metrics: res.metrics, receivedMs: Date.now(), status: 'rejected', payloadSha: null, detail: reason });
      this.store.audit(siteId, 'push-rejected', `round ${res.round} calibrate: ${reason}`, Date.now());
    });
    warn(`rejected the calibration statistics of site ${siteId}: ${reason}`);
    throw new RpcError('INVALID_ARGUMENT', `calibration statistics rejected: ${reason}`);
  }

  /**
   * Starts calibration (asking the live sites that can calibrate; with none, skips it), or
   * closes the current phase when every asked site answered, or at the deadline with at least
   * one answer. At a deadline with no answer the phase is extended to every live site that can
   * calibrate, until `maxMissedDeadlines` deadlines passed: then calibration is skipped.
   * Returns true when the state changed.
   */
  async advance(now: number, live: readonly string[]): Promise<boolean> {
    const st = this.state();
    if (st?.phase === 'complete') return false;
    const able = this.able(live);
    const deadlineMs = now + this.deadlineSeconds * 1000;
    if (!st) {
      if (live.length === 0) return false;
      if (able.length === 0) return this.skip(`no live site can calibrate (${live.join(', ')} registered without calibrate support)`, now);
      this.save({ phase: 'ranges', sites: able, deadlineMs }, `calibration (${this.q.method}) of the final model: ranges phase, asked ${able.join(', ')}`, now);
      return true;
    }
    const answered = this.store.results(this.roundOf(st.phase), 'calibrate', 'accepted').map((r) => r.siteId);
    const allIn = answered.length > 0 && st.sites.every((s) => answered.includes(s));
    if (!allIn && now < st.deadlineMs) return false;
    if (answered.length === 0) {
      const missed = (st.missed ?? 0) + 1;
      const max = this.q.maxMissedDeadlines;
      if (missed >= max) return this.skip(`${st.phase} phase: no site answered in ${missed} deadline${missed === 1 ? '' : 's'} of ${this.deadlineSeconds} s (asked ${st.sites.join(', ')})`, now);
      const sites = [...new Set([...st.sites, ...able])].sort();
      this.save({ ...st, sites, deadlineMs, missed }, `calibration ${st.phase} phase: no answer by deadline ${missed} of ${max}; asked ${sites.join(', ')}`, now);
      warn(`calibration ${st.phase} phase: no answer by deadline ${missed} of ${max}; extended (asked ${sites.join(', ')})`);
      return true;
    }
    const cal = await this.calibrator();
    cal.closePhase();
    const next = cal.request();
    const detail = `calibration ${st.phase} phase merged from ${answered.join(', ')}`;
    // the sites that answered the ranges can calibrate: ask them if none of the able ones is live right now
    const sites = able.length ? able : answered;
    if (next) this.save({ phase: 'histograms', sites, deadlineMs }, `${detail}; histograms phase, asked ${sites.join(', ')}`, now);
    else this.save({ phase: 'complete', sites: [], deadlineMs: now }, `${detail}; calibration complete`, now);
    return true;
  }

  /** Completes calibration without ranges: the run ends with its FP32 model only. */
  private skip(reason: string, now: number): true {
    warn(`federated calibration skipped, no INT8 student: ${reason}`);
    this.store.transaction(() => {
      this.store.setMeta(META, JSON.stringify({ phase: 'complete', sites: [], deadlineMs: now, skipped: reason } satisfies CalibrationState));
      this.store.audit('coordinator', 'calibration-skipped', reason, now);
    });
    return true;
  }

  private save(s: CalibrationState, detail: string, now: number): void {
    this.store.transaction(() => {
      this.store.setMeta(META, JSON.stringify(s));
      this.store.audit('coordinator', s.phase === 'complete' ? 'calibration-complete' : 'calibration-phase', detail, now);
    });
  }

  /** How many sites' statistics made the ranges phase. */
  sitesAnswered(): number {
    return this.store.results(this.roundOf('ranges'), 'calibrate', 'accepted').length;
  }

  /** The activation ranges the method picks from the merged statistics (complete only). */
  async ranges(): Promise<Map<string, TensorRange>> {
    return (await this.calibrator()).ranges();
  }

  /** The merged statistics (what `fedkd quantize --federated FILE` reads, packed) and the images behind them. */
  async merged(): Promise<{ stats: NamedTensor[]; images: number }> {
    const c = await this.calibrator();
    return { stats: c.mergedStats(), images: c.numExamples() };
  }
}
