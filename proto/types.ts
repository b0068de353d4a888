import type { NamedTensor } from '../core/tensors.ts';

/** What the coordinator asks a site to do next. */
export type TaskKind = 'train' | 'evaluate' | 'calibrate' | 'wait' | 'done';

/** The kinds of task that produce a result a site pushes back. */
export type ResultKind = 'train' | 'evaluate' | 'calibrate';

/**
 * A round's config as sent to the sites. Strategies add their own fields
 * (FedProx adds `proximalMu`); unknown fields pass through untouched.
 */
export interface RoundConfig {
  round: number;
  localEpochs: number;
  proximalMu?: number;
  [key: string]: unknown;
}

/** A task as the domain sees it. */
export interface Task {
  kind: TaskKind;
  round: number;
  modelSha256: string;
  config: RoundConfig | null;
  retryAfterMs: number;
}

/** Who is calling: every call carries the site id and its secret token. */
export interface Caller {
  siteId: string;
  token: string;
  /** The common name of the client's TLS certificate, when mutual TLS is on. */
  certCommonName?: string;
}

/** What a site says about itself when it registers. */
export interface Registration {
  datasetSize: number;
  capabilities: Record<string, string>;
}

/** The coordinator's answer to a registration. */
export interface RegisterReply {
  runId: string;
  heartbeatMs: number;
}

/** Metrics a site reports: numbers only, never data. */
export type Metrics = Record<string, number>;

/** A site's result for one task, in domain form. */
export interface SiteResult {
  round: number;
  kind: ResultKind;
  numExamples: number;
  metrics: Metrics;
  /** The trained weights (or their difference to the base model); absent for evaluate. */
  weights?: NamedTensor[];
  isDelta: boolean;
  /** sha256 of the global model the site started from. */
  baseSha256: string;
}

/** A result as it arrives at the coordinator: the weights still packed. */
export interface ReceivedResult extends Omit<SiteResult, 'weights'> {
  /** packTensors bytes, empty for metric-only results. */
  payload: Uint8Array;
}

/** How the coordinator treated a pushed result. */
export type PushStatus = 'accepted' | 'duplicate' | 'late';

/** The coordinator's answer to a pushed result. */
export interface PushReply {
  status: PushStatus;
  detail: string;
}
