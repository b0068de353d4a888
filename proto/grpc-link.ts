import * as grpc from '@grpc/grpc-js';
import type { CoordinatorLink } from './api.ts';
import { resultChunkSerializer } from './chunk-codec.ts';
import { ChunkAssembler, chunksWithTrailingSha256 } from './chunks.ts';
import { resultHeaderToWire, taskFromWire } from './convert.ts';
import { RpcError, type RpcCode } from './errors.ts';
import { SITE_HEADER } from './grpc-server.ts';
import { FLOW_CONTROL_WINDOW } from './server-window.ts';
import type { PushReply, PushStatus, ReceivedResult, RegisterReply, Registration, Task } from './types.ts';
import { federationService, type WireModelChunk, type WirePushReply, type WireResultChunk } from './wire.ts';

/** Deadline of a unary call. */
export const UNARY_DEADLINE_MS = 30_000;
/** Largest model a site accepts (16 GiB): a guard against a runaway stream, not a message limit. */
export const MAX_MODEL_BYTES = 16 * 1024 ** 3;

/** Channel options: reconnect quickly after a coordinator restart; calls fail fast, the agent backs off. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2000,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
};

/** How a site reaches the coordinator. */
export interface GrpcLinkOptions {
  /** HOST:PORT */
  address: string;
  siteId: string;
  token: string;
  credentials: grpc.ChannelCredentials;
  /** Overrides the TLS server name check (e.g. the certificate's CN when dialling an IP). */
  serverNameOverride?: string;
}

const CODE_NAMES = new Map<number, RpcCode>([
  [grpc.status.UNAUTHENTICATED, 'UNAUTHENTICATED'],
  [grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
  [grpc.status.NOT_FOUND, 'NOT_FOUND'],
  [grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
  [grpc.status.DATA_LOSS, 'DATA_LOSS'],
  [grpc.status.INTERNAL, 'INTERNAL'],
]);

/** A gRPC error as an RpcError; unavailability, deadlines and cancellations are UNAVAILABLE (retry). */
export function fromGrpcError(e: unknown): RpcError {
  if (e instanceof RpcError) return e;
  const err = e as Partial<grpc.ServiceError>;
  const code = typeof err.code === 'number' ? (CODE_NAMES.get(err.code) ?? 'UNAVAILABLE') : 'UNAVAILABLE';
  return new RpcError(code, err.details || err.message || String(e));
}

type Callback<T> = (err: grpc.ServiceError | null, res?: T) => void;

/** The site's link to the coordinator over gRPC (TLS, mutual TLS, or loopback plain text). */
export class GrpcLink implements CoordinatorLink {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();

  constructor(private readonly opts: GrpcLinkOptions) {
    const Ctor = grpc.makeGenericClientConstructor(federationService(), 'Federation');
    const options: grpc.ChannelOptions = { ...CHANNEL_OPTIONS };
    if (opts.serverNameOverride) options['grpc.ssl_target_name_override'] = opts.serverNameOverride;
    this.client = new Ctor(opts.address, opts.credentials, options);
    this.metadata.set(SITE_HEADER, opts.siteId);
    this.metadata.set('authorization', `Bearer ${opts.token}`);
  }

  private method(name: string): (...args: unknown[]) => unknown {
    const c = this.client as unknown as Record<string, (...args: unknown[]) => unknown>;
    return c[name].bind(this.client);
  }

  private unary<Req, Res>(name: string, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      const cb: Callback<Res> = (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res as Res));
      this.method(name)(req, this.metadata, { deadline: Date.now() + UNARY_DEADLINE_MS }, cb);
    });
  }

  /** Registers this site. */
  register(reg: Registration): Promise<RegisterReply> {
    return this.unary('Register', { siteId: this.opts.siteId, datasetSize: reg.datasetSize, capabilities: reg.capabilities });
  }

  /** Asks for the next task. */
  async pullTask(): Promise<Task> {
    return taskFromWire(await this.unary('PullTask', { siteId: this.opts.siteId }));
  }

  /** Streams the model in and checks its size and sha256. */
  fetchModel(sha256: string): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const call = this.method('FetchModel')({ modelSha256: sha256 }, this.metadata) as grpc.ClientReadableStream<WireModelChunk>;
      let asm: ChunkAssembler | null = null;
      let failed = false;
      const fail = (e: unknown): void => {
        if (failed) return;
        failed = true;
        call.cancel();
        reject(fromGrpcError(e));
      };
      call.on('data', (chunk: WireModelChunk) => {
        try {
          if (!asm) {
            if (chunk.sha256 !== sha256) throw new RpcError('DATA_LOSS', `coordinator sent model ${chunk.sha256}, asked for ${sha256}`);
            asm = new ChunkAssembler(chunk.totalBytes, sha256, MAX_MODEL_BYTES);
          }
          asm.add(chunk.data);
        } catch (e) {
          fail(e);
        }
      });
      call.on('error', fail);
      call.on('end', () => {
        if (failed) return;
        try {
          if (!asm) throw new RpcError('DATA_LOSS', 'empty model stream');
          resolve(asm.finish());
        } catch (e) {
          fail(e);
        }
      });
    });
  }

  /**
   * Streams a result out: the header with the first chunk, the payload's sha256 with the last,
   * honouring back-pressure; stops writing once the call has ended.
   */
  pushResult(result: ReceivedResult): Promise<PushReply> {
    let ended: () => void = () => {};
    const callEnded = new Promise<void>((r) => (ended = r));
    const reply = new Promise<PushReply>((resolve, reject) => {
      const cb: Callback<WirePushReply> = (err, res) => {
        ended();
        if (err) reject(fromGrpcError(err));
        else resolve({ status: res!.status as PushStatus, detail: res!.detail });
      };
      // each push serializes its chunks into one buffer of its own (proto/chunk-codec.ts)
      const def = federationService().PushResult as grpc.MethodDefinition<WireResultChunk, WirePushReply>;
      const call = this.client.makeClientStreamRequest(def.path, resultChunkSerializer(def.requestSerialize), def.responseDeserialize, this.metadata, {}, cb);
      // the sha256 trails in the last chunk: hashing goes along with sending, not before it
      const header = resultHeaderToWire(result, '');
      (async () => {
        let first = true;
        let done = false;
        void callEnded.then(() => (done = true));
        for (const { data, sha256 = '' } of chunksWithTrailingSha256(result.payload)) {
          if (done) return;
          const ok = call.write({ header: first ? header : null, data, sha256 });
          first = false;
          if (!ok) await Promise.race([new Promise<void>((r) => call.once('drain', r)), callEnded]);
        }
        if (!done) call.end();
      })().catch((e) => {
        call.cancel();
        reject(fromGrpcError(e));
      });
    });
    return reply;
  }

  /** Says the site is alive. */
  heartbeat(busyRound: number): Promise<{ serverTimeMs: number }> {
    return this.unary('Heartbeat', { siteId: this.opts.siteId, busyRound });
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}
