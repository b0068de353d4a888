import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The .proto file that defines the federation service. */
export const PROTO_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fedkd.proto');

/** Wire enum names of TaskKind, as proto-loader gives them (enums: String). */
export type WireTaskKind = 'TASK_KIND_UNSPECIFIED' | 'TRAIN' | 'EVALUATE' | 'CALIBRATE' | 'WAIT' | 'DONE';

/** fedkd.v1.RegisterRequest as proto-loader decodes it (keepCase off: camelCase fields). */
export interface WireRegisterRequest {
  siteId: string;
  datasetSize: number;
  capabilities: Record<string, string>;
}

/** fedkd.v1.RegisterReply. */
export interface WireRegisterReply {
  runId: string;
  heartbeatMs: number;
}

/** fedkd.v1.PullTaskRequest. */
export interface WirePullTaskRequest {
  siteId: string;
}

/** fedkd.v1.Task. */
export interface WireTask {
  kind: WireTaskKind;
  round: number;
  modelSha256: string;
  configJson: string;
  retryAfterMs: number;
}

/** fedkd.v1.FetchModelRequest. */
export interface WireFetchModelRequest {
  modelSha256: string;
}

/** fedkd.v1.ModelChunk. */
export interface WireModelChunk {
  totalBytes: number;
  sha256: string;
  data: Uint8Array;
}

/** fedkd.v1.ResultHeader. */
export interface WireResultHeader {
  round: number;
  kind: WireTaskKind;
  numExamples: number;
  metricsJson: string;
  isDelta: boolean;
  baseSha256: string;
  totalBytes: number;
  sha256: string;
}

/** fedkd.v1.ResultChunk: the header travels in the first chunk only, the sha256 (if not in the header) in the last. */
export interface WireResultChunk {
  header?: WireResultHeader | null;
  data: Uint8Array;
  sha256?: string;
}

/** fedkd.v1.PushReply. */
export interface WirePushReply {
  status: string;
  detail: string;
}

/** fedkd.v1.HeartbeatRequest. */
export interface WireHeartbeatRequest {
  siteId: string;
  busyRound: number;
}

/** fedkd.v1.HeartbeatReply. */
export interface WireHeartbeatReply {
  serverTimeMs: number;
}

let cached: grpc.ServiceDefinition | null = null;

/** The Federation service definition, loaded from fedkd.proto at run time (once). */
export function federationService(): grpc.ServiceDefinition {
  if (cached) return cached;
  const def = protoLoader.loadSync(PROTO_FILE, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { fedkd: { v1: { Federation: grpc.ServiceClientConstructor } } };
  cached = pkg.fedkd.v1.Federation.service;
  return cached;
}
