import Database from 'better-sqlite3';
import type { Metrics, ResultKind } from '../proto/types.ts';

/** Phases of a round: sites train, then evaluate the new global model, then it is closed. */
export type RoundPhase = 'train' | 'evaluate' | 'closed';

/** What happened to a pushed result. */
export type ResultStatus = 'accepted' | 'late' | 'rejected';

/** A round as stored. */
export interface RoundRow {
  round: number;
  phase: RoundPhase;
  modelIn: string;
  modelOut: string | null;
  stateOut: string | null;
  config: Record<string, unknown>;
  sampled: string[];
  evalSites: string[];
  startedMs: number;
  deadlineMs: number;
  /** When the training phase ended in aggregation. */
  aggregatedMs: number | null;
  evalDeadlineMs: number | null;
  closedMs: number | null;
  summary: Record<string, unknown> | null;
}

/** A received result as stored (payloads live in files named by their sha256). */
export interface ResultRow {
  round: number;
  siteId: string;
  kind: ResultKind;
  status: ResultStatus;
  numExamples: number;
  metrics: Metrics;
  payloadSha: string | null;
  detail: string;
  receivedMs: number;
}

/** A known site. */
export interface SiteRow {
  siteId: string;
  tokenHash: string;
  datasetSize: number | null;
  capabilities: Record<string, string>;
  lastSeenMs: number | null;
}

/** One line of the audit log: who did what, when. */
export interface AuditRow {
  tsMs: number;
  siteId: string;
  action: string;
  detail: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sites (site_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, dataset_size INTEGER,
  capabilities_json TEXT NOT NULL DEFAULT '{}', last_seen_ms INTEGER);
CREATE TABLE IF NOT EXISTS rounds (round INTEGER PRIMARY KEY, phase TEXT NOT NULL, model_in TEXT NOT NULL, model_out TEXT,
  state_out TEXT, config_json TEXT NOT NULL, sampled_json TEXT NOT NULL, eval_sites_json TEXT NOT NULL DEFAULT '[]',
  started_ms INTEGER NOT NULL, deadline_ms INTEGER NOT NULL, aggregated_ms INTEGER, eval_deadline_ms INTEGER, closed_ms INTEGER, summary_json TEXT);
CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY AUTOINCREMENT, round INTEGER NOT NULL, site_id TEXT NOT NULL,
  kind TEXT NOT NULL, status TEXT NOT NULL, num_examples INTEGER NOT NULL, metrics_json TEXT NOT NULL, payload_sha TEXT,
  detail TEXT NOT NULL DEFAULT '', received_ms INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS one_accepted_result ON results (round, site_id, kind) WHERE status = 'accepted';
CREATE TABLE IF NOT EXISTS checkpoints (sha256 TEXT PRIMARY KEY, round INTEGER NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, site_id TEXT NOT NULL,
  action TEXT NOT NULL, detail TEXT NOT NULL);
`;

interface RawRound {
  round: number;
  phase: RoundPhase;
  model_in: string;
  model_out: string | null;
  state_out: string | null;
  config_json: string;
  sampled_json: string;
  eval_sites_json: string;
  started_ms: number;
  deadline_ms: number;
  aggregated_ms: number | null;
  eval_deadline_ms: number | null;
  closed_ms: number | null;
  summary_json: string | null;
}

function roundFromRaw(r: RawRound): RoundRow {
  return {
    round: r.round,
    phase: r.phase,
    modelIn: r.model_in,
    modelOut: r.model_out,
    stateOut: r.state_out,
    config: JSON.parse(r.config_json) as Record<string, unknown>,
    sampled: JSON.parse(r.sampled_json) as string[],
    evalSites: JSON.parse(r.eval_sites_json) as string[],
    startedMs: r.started_ms,
    deadlineMs: r.deadline_ms,
    aggregatedMs: r.aggregated_ms,
    evalDeadlineMs: r.eval_deadline_ms,
    closedMs: r.closed_ms,
    summary: r.summary_json ? (JSON.parse(r.summary_json) as Record<string, unknown>) : null,
  };
}

/** Metrics to JSON with NaN kept (as null), since JSON has no NaN. */
function metricsFromJson(s: string): Metrics {
  const o = JSON.parse(s) as Record<string, number | null>;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === null ? NaN : v]));
}

/**
 * The coordinator's state in SQLite (WAL): sites, rounds, results, checkpoint hashes and
 * the audit log. Every method commits before it returns, so the caller replies only
 * after its state is on disk; a killed coordinator reopens the same file and resumes.
 */
export class StateStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
  }

  /** Runs `fn` in one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A run-level value (run id, config hash, initial model). */
  getMeta(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  /** Sets a run-level value. */
  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** Adds a site or replaces its token hash (the tokens file is the source of truth). */
  upsertSite(siteId: string, tokenHash: string): void {
    this.db.prepare('INSERT INTO sites (site_id, token_hash) VALUES (?, ?) ON CONFLICT(site_id) DO UPDATE SET token_hash = excluded.token_hash').run(siteId, tokenHash);
  }

  /** Revokes every site not in `keep` (its token no longer matches anything). */
  revokeSitesExcept(keep: readonly string[]): void {
    const all = (this.db.prepare('SELECT site_id FROM sites').all() as { site_id: string }[]).map((r) => r.site_id);
    for (const id of all) if (!keep.includes(id)) this.db.prepare("UPDATE sites SET token_hash = 'revoked' WHERE site_id = ?").run(id);
  }

  /** Records a registration. */
  registerSite(siteId: string, datasetSize: number, capabilities: Record<string, string>, nowMs: number): void {
    this.db.prepare('UPDATE sites SET dataset_size = ?, capabilities_json = ?, last_seen_ms = ? WHERE site_id = ?').run(datasetSize, JSON.stringify(capabilities), nowMs, siteId);
  }

  /** Marks a site as seen now. */
  touchSite(siteId: string, nowMs: number): void {
    this.db.prepare('UPDATE sites SET last_seen_ms = ? WHERE site_id = ?').run(nowMs, siteId);
  }

  /** One site, or null. */
  site(siteId: string): SiteRow | null {
    const r = this.db.prepare('SELECT * FROM sites WHERE site_id = ?').get(siteId) as
      | { site_id: string; token_hash: string; dataset_size: number | null; capabilities_json: string; last_seen_ms: number | null }
      | undefined;
    if (!r) return null;
    return { siteId: r.site_id, tokenHash: r.token_hash, datasetSize: r.dataset_size, capabilities: JSON.parse(r.capabilities_json) as Record<string, string>, lastSeenMs: r.last_seen_ms };
  }

  /** Ids of the sites seen at or after `sinceMs`, sorted. */
  sitesSeenSince(sinceMs: number): string[] {
    return (this.db.prepare('SELECT site_id FROM sites WHERE last_seen_ms >= ? ORDER BY site_id').all(sinceMs) as { site_id: string }[]).map((r) => r.site_id);
  }

  /** The latest round, or null before the first. */
  lastRound(): RoundRow | null {
    const r = this.db.prepare('SELECT * FROM rounds ORDER BY round DESC LIMIT 1').get() as RawRound | undefined;
    return r ? roundFromRaw(r) : null;
  }

  /** Every round, in order. */
  rounds(): RoundRow[] {
    return (this.db.prepare('SELECT * FROM rounds ORDER BY round').all() as RawRound[]).map(roundFromRaw);
  }

  /** Starts a round in the train phase. */
  insertRound(r: Pick<RoundRow, 'round' | 'modelIn' | 'config' | 'sampled' | 'startedMs' | 'deadlineMs'>): void {
    this.db
      .prepare("INSERT INTO rounds (round, phase, model_in, config_json, sampled_json, started_ms, deadline_ms) VALUES (?, 'train', ?, ?, ?, ?, ?)")
      .run(r.round, r.modelIn, JSON.stringify(r.config), JSON.stringify(r.sampled), r.startedMs, r.deadlineMs);
  }

  /** Widens a round's sample and moves its deadline (too few results by the deadline). */
  extendRound(round: number, sampled: string[], deadlineMs: number): void {
    this.db.prepare('UPDATE rounds SET sampled_json = ?, deadline_ms = ? WHERE round = ?').run(JSON.stringify(sampled), deadlineMs, round);
  }

  /** Ends the train phase with the new global model; evaluation follows (or the round closes). */
  finishTraining(round: number, modelOut: string, stateOut: string | null, evalSites: string[], evalDeadlineMs: number | null, nowMs: number): void {
    const phase: RoundPhase = evalDeadlineMs === null ? 'closed' : 'evaluate';
    this.db
      .prepare('UPDATE rounds SET phase = ?, model_out = ?, state_out = ?, eval_sites_json = ?, aggregated_ms = ?, eval_deadline_ms = ?, closed_ms = ? WHERE round = ?')
      .run(phase, modelOut, stateOut, JSON.stringify(evalSites), nowMs, evalDeadlineMs, phase === 'closed' ? nowMs : null, round);
  }

  /** Closes a round with its summary. */
  closeRound(round: number, summary: Record<string, unknown>, nowMs: number): void {
    this.db.prepare("UPDATE rounds SET phase = 'closed', summary_json = ?, closed_ms = ? WHERE round = ?").run(JSON.stringify(summary), nowMs, round);
  }

  /** Records a result in any status. Inserting a second accepted result for (round, site, kind) throws. */
  insertResult(r: ResultRow): void {
    this.db
      .prepare('INSERT INTO results (round, site_id, kind, status, num_examples, metrics_json, payload_sha, detail, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.round, r.siteId, r.kind, r.status, r.numExamples, JSON.stringify(r.metrics), r.payloadSha, r.detail, r.receivedMs);
  }

  /** The results of a round, optionally of one kind and status, in arrival order. */
  results(round: number, kind?: ResultKind, status?: ResultStatus): ResultRow[] {
    const rows = this.db
      .prepare('SELECT * FROM results WHERE round = ? AND (? IS NULL OR kind = ?) AND (? IS NULL OR status = ?) ORDER BY id')
      .all(round, kind ?? null, kind ?? null, status ?? null, status ?? null) as {
      round: number;
      site_id: string;
      kind: ResultKind;
      status: ResultStatus;
      num_examples: number;
      metrics_json: string;
      payload_sha: string | null;
      detail: string;
      received_ms: number;
    }[];
    return rows.map((r) => ({
      round: r.round,
      siteId: r.site_id,
      kind: r.kind,
      status: r.status,
      numExamples: r.num_examples,
      metrics: metricsFromJson(r.metrics_json),
      payloadSha: r.payload_sha,
      detail: r.detail,
      receivedMs: r.received_ms,
    }));
  }

  /** The accepted result of (round, site, kind), if any. */
  acceptedResult(round: number, siteId: string, kind: ResultKind): ResultRow | null {
    return this.results(round, kind, 'accepted').find((r) => r.siteId === siteId) ?? null;
  }

  /** Records a checkpoint file's hash. */
  insertCheckpoint(sha256: string, round: number, role: string, nowMs: number): void {
    this.db.prepare('INSERT OR IGNORE INTO checkpoints (sha256, round, role, created_ms) VALUES (?, ?, ?, ?)').run(sha256, round, role, nowMs);
  }

  /** Appends to the audit log. */
  audit(siteId: string, action: string, detail: string, nowMs: number): void {
    this.db.prepare('INSERT INTO audit (ts_ms, site_id, action, detail) VALUES (?, ?, ?, ?)').run(nowMs, siteId, action, detail);
  }

  /** The audit log, oldest first. */
  auditLog(): AuditRow[] {
    return (this.db.prepare('SELECT ts_ms, site_id, action, detail FROM audit ORDER BY id').all() as { ts_ms: number; site_id: string; action: string; detail: string }[]).map((r) => ({
      tsMs: r.ts_ms,
      siteId: r.site_id,
      action: r.action,
      detail: r.detail,
    }));
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
