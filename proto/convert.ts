import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import { RpcError } from './errors.ts';
import type { Metrics, ReceivedResult, ResultKind, RoundConfig, Task, TaskKind } from './types.ts';
import type { WireResultHeader, WireTask, WireTaskKind } from './wire.ts';

/**
 * The one place that converts between wire messages and domain types.
 * Weights cross as packTensors bytes (core/tensors.ts).
 */

const KIND_TO_WIRE: Record<TaskKind, WireTaskKind> = { train: 'TRAIN', evaluate: 'EVALUATE', calibrate: 'CALIBRATE', wait: 'WAIT', done: 'DONE' };

/** Domain task kind → wire enum name. */
export function kindToWire(kind: TaskKind): WireTaskKind {
  return KIND_TO_WIRE[kind];
}

/** Wire enum name → domain task kind; throws INVALID_ARGUMENT on an unknown one. */
export function kindFromWire(kind: WireTaskKind | string): TaskKind {
  const found = (Object.keys(KIND_TO_WIRE) as TaskKind[]).find((k) => KIND_TO_WIRE[k] === kind);
  if (!found) throw new RpcError('INVALID_ARGUMENT', `unknown task kind ${kind}`);
  return found;
}

/** Domain task → wire task. */
export function taskToWire(t: Task): WireTask {
  return { kind: kindToWire(t.kind), round: t.round, modelSha256: t.modelSha256, configJson: t.config ? JSON.stringify(t.config) : '', retryAfterMs: t.retryAfterMs };
}

/** Wire task → domain task. */
export function taskFromWire(w: WireTask): Task {
  return {
    kind: kindFromWire(w.kind),
    round: w.round,
    modelSha256: w.modelSha256,
    config: w.configJson ? (JSON.parse(w.configJson) as RoundConfig) : null,
    retryAfterMs: w.retryAfterMs,
  };
}

/** Packed weights for the wire. */
export function encodeWeights(weights: readonly NamedTensor[]): Uint8Array {
  return packTensors(weights);
}

/**
 * Weights from wire bytes; a malformed payload is the sender's fault (INVALID_ARGUMENT).
 * The tensors are views on `bytes` (no copy; a received payload is aligned): read them,
 * do not write to them.
 */
export function decodeWeights(bytes: Uint8Array): NamedTensor[] {
  try {
    return unpackTensors(bytes, { view: true });
  } catch (e) {
    throw new RpcError('INVALID_ARGUMENT', `malformed weights: ${(e as Error).message}`);
  }
}

/** The header of a pushed result (size and hash describe `payload`; an empty hash trails in the last chunk). */
export function resultHeaderToWire(r: ReceivedResult, sha256: string): WireResultHeader {
  return {
    round: r.round,
    kind: kindToWire(r.kind),
    numExamples: r.numExamples,
    metricsJson: JSON.stringify(r.metrics),
    isDelta: r.isDelta,
    baseSha256: r.baseSha256,
    totalBytes: r.payload.length,
    sha256,
  };
}

/** A pushed result's header and payload, back in domain form; checks the fields a site could get wrong. */
export function resultFromWire(h: WireResultHeader, payload: Uint8Array): ReceivedResult {
  const kind = kindFromWire(h.kind);
  if (kind !== 'train' && kind !== 'evaluate' && kind !== 'calibrate') throw new RpcError('INVALID_ARGUMENT', `a result cannot be of kind ${kind}`);
  return { round: h.round, kind: kind as ResultKind, numExamples: h.numExamples, metrics: parseMetrics(h.metricsJson), isDelta: h.isDelta, baseSha256: h.baseSha256, payload };
}

/** Metrics JSON → numbers by name; anything else is INVALID_ARGUMENT. */
export function parseMetrics(json: string): Metrics {
  let o: unknown;
  try {
    o = json ? JSON.parse(json) : {};
  } catch {
    throw new RpcError('INVALID_ARGUMENT', 'metrics are not valid JSON');
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new RpcError('INVALID_ARGUMENT', 'metrics must be a JSON object');
  const out: Metrics = {};
  for (const [k, v] of Object.entries(o)) {
    // JSON has no NaN: a metric that is undefined (AUC on one class) travels as null
    if (v !== null && typeof v !== 'number') throw new RpcError('INVALID_ARGUMENT', `metric ${k} is not a number`);
    out[k] = v === null ? NaN : v;
  }
  return out;
}
