import * as grpc from '@grpc/grpc-js';
import type { FederationService } from './api.ts';
import { encodeModelChunk } from './chunk-codec.ts';
import { ChunkAssembler, chunksOf } from './chunks.ts';
import { resultFromWire, taskToWire } from './convert.ts';
import { warn } from '../core/log.ts';
import { RpcError } from './errors.ts';
import { widenConnectionWindow, widenStreamWindow } from './server-window.ts';
import type { Caller, ReceivedResult } from './types.ts';
import {
  federationService,
  type WireFetchModelRequest,
  type WireHeartbeatReply,
  type WireHeartbeatRequest,
  type WireModelChunk,
  type WirePullTaskRequest,
  type WirePushReply,
  type WireRegisterReply,
  type WireRegisterRequest,
  type WireResultChunk,
  type WireResultHeader,
  type WireTask,
} from './wire.ts';

/** Metadata key carrying the calling site's id. */
export const SITE_HEADER = 'x-fedkd-site';
/** Largest result payload the server accepts by default (4 GiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 ** 3;

/** Where and how to listen. */
export interface ServeOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  credentials: grpc.ServerCredentials;
  maxPayloadBytes?: number;
}

/** A listening federation server. */
export interface RunningServer {
  port: number;
  /** Stops accepting calls and ends the open ones. */
  stop(): Promise<void>;
}

/** Reads the caller's site id, bearer token and (under mutual TLS) certificate common name. */
export function callerOf(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'metadata' | 'getAuthContext'>): Caller {
  const siteId = String(call.metadata.get(SITE_HEADER)[0] ?? '');
  const auth = String(call.metadata.get('authorization')[0] ?? '');
  const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return { siteId, token, certCommonName: typeof cn === 'string' ? cn : undefined };
}

/** An error as a gRPC status; errors that are not RpcError become INTERNAL. */
export function toStatus(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof RpcError) return { code: grpc.status[e.code], details: e.message };
  return { code: grpc.status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}

function unary<Req, Res>(fn: (caller: Caller, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    fn(callerOf(call), call.request).then(
      (r) => cb(null, r),
      (e) => cb(toStatus(e)),
    );
  };
}

function waitDrain(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}

function fetchModel(service: FederationService): grpc.handleServerStreamingCall<WireFetchModelRequest, WireModelChunk> {
  return (call) => {
    (async () => {
      const sha = call.request.modelSha256;
      const bytes = await service.fetchModel(callerOf(call), sha);
      let first = true;
      for (const data of chunksOf(bytes)) {
        if (call.cancelled) return;
        const ok = call.write(first ? { totalBytes: bytes.length, sha256: sha, data } : { totalBytes: 0, sha256: '', data });
        first = false;
        if (!ok) await waitDrain(call);
      }
      call.end();
    })().catch((e) => call.emit('error', toStatus(e)));
  };
}

/**
 * Takes in a pushed result's chunks as they arrive ('data' events) and checks them: the header
 * first, no chunk after the one carrying the sha256, then size and hash (ChunkAssembler).
 * Each chunk is copied out and hashed when it arrives; through an async iterator grpc-js
 * queued up to 16 decoded chunks (16 MB per push) ahead of the loop, and paired runs of
 * the transfer bench's push took ~5 % more coordinator CPU per MB that way.
 * Rejects if the call closes before its end (cancelled).
 */
function receiveResult(call: grpc.ServerReadableStream<WireResultChunk, WirePushReply>, maxBytes: number): Promise<ReceivedResult> {
  return new Promise((resolve, reject) => {
    let header: WireResultHeader | null = null;
    let asm: ChunkAssembler | null = null;
    let trailingSha = '';
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      reject(e instanceof RpcError ? e : new RpcError('UNAVAILABLE', `push stream failed: ${(e as Error)?.message ?? String(e)}`));
    };
    call.on('data', (chunk: WireResultChunk) => {
      if (settled) return; // a refused push: the rest is read and dropped until grpc-js ends the call
      try {
        if (!asm) {
          if (!chunk.header) throw new RpcError('INVALID_ARGUMENT', 'the first chunk of a result must carry its header');
          header = chunk.header;
          asm = new ChunkAssembler(header.totalBytes, header.sha256, maxBytes);
        }
        if (trailingSha) throw new RpcError('INVALID_ARGUMENT', 'a chunk after the one carrying the sha256');
        asm.add(chunk.data);
        trailingSha = chunk.sha256 ?? '';
      } catch (e) {
        fail(e);
      }
    });
    call.once('end', () => {
      if (settled) return;
      try {
        if (!asm || !header) throw new RpcError('INVALID_ARGUMENT', 'empty result stream');
        const result = resultFromWire(header, asm.finish(trailingSha));
        settled = true;
        resolve(result);
      } catch (e) {
        fail(e);
      }
    });
    call.once('error', fail);
    call.once('close', () => fail(new RpcError('UNAVAILABLE', 'push cancelled before its end')));
  });
}

function pushResult(service: FederationService, maxBytes: number): grpc.handleClientStreamingCall<WireResultChunk, WirePushReply> {
  return (call, cb) => {
    const caller = callerOf(call);
    service
      .authenticate(caller)
      .then(() => receiveResult(call, maxBytes))
      .then((result) => service.pushResult(caller, result))
      .then(
        (r) => cb(null, { status: r.status, detail: r.detail }),
        (e) => cb(toStatus(e)),
      );
  };
}

/** The gRPC handlers of the Federation service, each delegating to `service`. */
export function federationHandlers(service: FederationService, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): grpc.UntypedServiceImplementation {
  return {
    Register: unary<WireRegisterRequest, WireRegisterReply>((c, r) => service.register(c, { datasetSize: r.datasetSize, capabilities: r.capabilities ?? {} })),
    PullTask: unary<WirePullTaskRequest, WireTask>(async (c) => taskToWire(await service.pullTask(c))),
    FetchModel: fetchModel(service),
    PushResult: pushResult(service, maxPayloadBytes),
    Heartbeat: unary<WireHeartbeatRequest, WireHeartbeatReply>((c, r) => service.heartbeat(c, r.busyRound)),
  };
}

/** The Federation service as the server sends it: model chunks are serialized into one reused buffer (proto/chunk-codec.ts). */
export function serverDefinition(): grpc.ServiceDefinition {
  const def = federationService();
  return { ...def, FetchModel: { ...def.FetchModel, responseSerialize: encodeModelChunk as (m: object) => Buffer } };
}

/** Starts a gRPC server for `service`; resolves once it listens (port 0 picks a free one). */
export async function serveFederation(service: FederationService, opts: ServeOptions): Promise<RunningServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  const streamWindow = widenStreamWindow(server);
  server.addService(serverDefinition(), federationHandlers(service, opts.maxPayloadBytes));
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port}`, opts.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  if (!streamWindow || widenConnectionWindow(server) === 0) warn('grpc-js internals changed: the server keeps 64 KB flow-control windows (pushes are slower)');
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
