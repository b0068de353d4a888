import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationService } from '../../proto/api.ts';
import { ChunkAssembler, chunksOf, chunksWithTrailingSha256 } from '../../proto/chunks.ts';
import { channelCredentials, serverCredentials } from '../../proto/credentials.ts';
import { RpcError } from '../../proto/errors.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { serveFederation, type RunningServer } from '../../proto/grpc-server.ts';
import type { Caller, ReceivedResult } from '../../proto/types.ts';
import { federationService } from '../../proto/wire.ts';
import { benchPayload as payload } from '../../bench/payload.ts';

const MB = 1024 * 1024;
const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A stand-in coordinator: one model, one site, records what it receives. */
class FakeService implements FederationService {
  received: ReceivedResult[] = [];
  lieAboutHash = false;
  constructor(readonly model: Uint8Array) {}
  async authenticate(c: Caller): Promise<void> {
    if (c.siteId !== 'a' || c.token !== 'secret') throw new RpcError('UNAUTHENTICATED', `unknown site or bad token for '${c.siteId}'`);
  }
  async register(c: Caller) {
    await this.authenticate(c);
    return { runId: 'r1', heartbeatMs: 1000 };
  }
  async pullTask(c: Caller) {
    await this.authenticate(c);
    return { kind: 'train' as const, round: 3, modelSha256: hex(this.model), config: { round: 3, localEpochs: 2, proximalMu: 0.01 }, retryAfterMs: 0 };
  }
  async fetchModel(c: Caller, sha: string) {
    await this.authenticate(c);
    if (sha !== hex(this.model)) throw new RpcError('NOT_FOUND', `no model ${sha}`);
    return this.lieAboutHash ? this.model.subarray(1) : this.model;
  }
  async pushResult(c: Caller, r: ReceivedResult) {
    await this.authenticate(c);
    this.received.push(r);
    return { status: 'accepted' as const, detail: `${r.payload.length} bytes` };
  }
  async heartbeat(c: Caller) {
    await this.authenticate(c);
    return { serverTimeMs: 42 };
  }
}

/** Pushes hand-made chunks with a bare grpc-js client, as a site of another make could (or cancels instead of ending the stream). */
function rawPush(address: string, chunks: object[], cancelAfterWrites = false): Promise<unknown> {
  const Ctor = grpc.makeGenericClientConstructor(federationService(), 'Federation');
  const client = new Ctor(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('x-fedkd-site', 'a');
  md.set('authorization', 'Bearer secret');
  return new Promise((resolve, reject) => {
    const push = (client as unknown as Record<string, (md: grpc.Metadata, cb: (e: unknown, r: unknown) => void) => grpc.ClientWritableStream<object>>).PushResult;
    const call = push.call(client, md, (e, r) => {
      client.close();
      if (e) reject(e);
      else resolve(r);
    });
    for (const c of chunks) call.write(c);
    if (cancelAfterWrites) setTimeout(() => call.cancel(), 50);
    else call.end();
  });
}

describe('chunking', () => {
  it('cuts a payload into views of the chunk size and reassembles it', () => {
    const p = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
    const parts = [...chunksOf(p, 3)].map((c) => [...c]);
    expect(parts).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    const asm = new ChunkAssembler(7, hex(p), 100);
    for (const c of chunksOf(p, 3)) asm.add(c);
    expect([...asm.finish()]).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('refuses a truncated, overlong, oversized or corrupted payload', () => {
    const p = Uint8Array.from([1, 2, 3]);
    const short = new ChunkAssembler(3, hex(p), 10);
    short.add(p.subarray(0, 2));
    expect(() => short.finish()).toThrow(/truncated/);
    expect(() => new ChunkAssembler(3, hex(p), 10).add(new Uint8Array(4))).toThrow(/longer/);
    expect(() => new ChunkAssembler(11, hex(p), 10)).toThrow(/exceeds/);
    const bad = new ChunkAssembler(3, hex(p), 10);
    bad.add(Uint8Array.from([1, 2, 4]));
    expect(() => bad.finish()).toThrow(/sha256 mismatch/);
  });

  it('hands out the sha256 with the last chunk only, and checks it there', () => {
    const p = payload(10, 5);
    const chunks = [...chunksWithTrailingSha256(p, 4)];
    expect(chunks.map((c) => c.data.length)).toEqual([4, 4, 2]);
    expect(chunks.map((c) => c.sha256)).toEqual([undefined, undefined, hex(p)]);
    expect([...chunksWithTrailingSha256(new Uint8Array(0))]).toEqual([{ data: new Uint8Array(0), sha256: hex(new Uint8Array(0)) }]);
    const assemble = (declared: string, trailing: string): Uint8Array => {
      const asm = new ChunkAssembler(10, declared, 10);
      for (const c of chunks) asm.add(c.data);
      return asm.finish(trailing);
    };
    expect(hex(assemble('', hex(p)))).toBe(hex(p));
    expect(hex(assemble(hex(p), hex(p)))).toBe(hex(p));
    expect(() => assemble('', hex(p.subarray(1)))).toThrow(/sha256 mismatch/);
    expect(() => assemble(hex(p), 'f'.repeat(64))).toThrow(/contradicts/);
    expect(() => assemble('', '')).toThrow(/without a sha256/);
  });
});

describe('Federation over gRPC (loopback, plain text)', () => {
  const model = payload(100 * MB + 12345, 7);
  const service = new FakeService(model);
  let server: RunningServer;
  let link: GrpcLink;
  const addr = (): string => `127.0.0.1:${server.port}`;

  beforeAll(async () => {
    server = await serveFederation(service, { host: '127.0.0.1', port: 0, credentials: serverCredentials('127.0.0.1', 'insecure') });
    link = new GrpcLink({ address: addr(), siteId: 'a', token: 'secret', credentials: channelCredentials(addr(), 'insecure') });
  });
  afterAll(async () => {
    link.close();
    await server.stop();
  });

  it('carries a task and its round config', async () => {
    const t = await link.pullTask();
    expect(t).toEqual({ kind: 'train', round: 3, modelSha256: hex(model), config: { round: 3, localEpochs: 2, proximalMu: 0.01 }, retryAfterMs: 0 });
  });

  it('streams a 100 MB model to a site byte for byte', async () => {
    const got = await link.fetchModel(hex(model));
    expect(got.length).toBe(model.length);
    expect(hex(got)).toBe(hex(model));
  });

  it('streams a 100 MB result to the coordinator with its header', async () => {
    const p = payload(100 * MB + 3, 11);
    const reply = await link.pushResult({ round: 3, kind: 'train', numExamples: 250, metrics: { loss: 0.25, auc: NaN }, isDelta: true, baseSha256: 'b'.repeat(64), payload: p });
    expect(reply).toEqual({ status: 'accepted', detail: `${p.length} bytes` });
    const r = service.received.at(-1)!;
    expect(hex(r.payload)).toBe(hex(p));
    expect(r).toMatchObject({ round: 3, kind: 'train', numExamples: 250, isDelta: true, baseSha256: 'b'.repeat(64) });
    expect(r.metrics.loss).toBe(0.25);
    expect(r.metrics.auc).toBeNaN();
  });

  it('a push checks the sha256 in the header or trailing in the last chunk; a wrong one is DATA_LOSS', async () => {
    const p = payload(3 * MB + 1, 13);
    const header = { round: 4, kind: 'TRAIN', numExamples: 2, metricsJson: '{}', isDelta: false, baseSha256: '', totalBytes: p.length };
    const declared = [{ header: { ...header, sha256: hex(p) }, data: p.subarray(0, MB) }, { data: p.subarray(MB) }];
    expect(await rawPush(addr(), declared)).toMatchObject({ status: 'accepted' });
    expect(hex(service.received.at(-1)!.payload)).toBe(hex(p));
    const trailing = [{ header: { ...header, sha256: '' }, data: p.subarray(0, MB) }, { data: p.subarray(MB), sha256: hex(p) }];
    expect(await rawPush(addr(), trailing)).toMatchObject({ status: 'accepted' });
    const wrong = [{ header: { ...header, sha256: '' }, data: p.subarray(0, MB) }, { data: p.subarray(MB), sha256: hex(p.subarray(1)) }];
    await expect(rawPush(addr(), wrong)).rejects.toMatchObject({ code: grpc.status.DATA_LOSS });
    const after = [{ header: { ...header, sha256: '' }, data: p.subarray(0, MB), sha256: hex(p) }, { data: p.subarray(MB) }];
    await expect(rawPush(addr(), after)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('a push without its header first, longer than declared or empty is refused; a cancelled one leaves the server serving', async () => {
    const p = payload(2 * MB + 5, 17);
    const header = { round: 5, kind: 'TRAIN', numExamples: 2, metricsJson: '{}', isDelta: false, baseSha256: '', totalBytes: p.length, sha256: '' };
    await expect(rawPush(addr(), [{ data: p.subarray(0, MB) }])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/header/) });
    const longer = [{ header, data: p.subarray(0, MB) }, { data: p.subarray(MB) }, { data: p.subarray(0, 10), sha256: hex(p) }];
    await expect(rawPush(addr(), longer)).rejects.toMatchObject({ code: grpc.status.DATA_LOSS, details: expect.stringMatching(/longer than the declared/) });
    await expect(rawPush(addr(), [])).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/empty result stream/) });
    const before = service.received.length;
    const cancelled = rawPush(addr(), [{ header, data: p.subarray(0, MB) }], true);
    await expect(cancelled).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    const r = { round: 5, kind: 'train' as const, numExamples: 2, metrics: {}, isDelta: false, baseSha256: '', payload: p };
    expect(await link.pushResult(r)).toEqual({ status: 'accepted', detail: `${p.length} bytes` });
    expect(service.received.length).toBe(before + 1);
    expect(hex(service.received.at(-1)!.payload)).toBe(hex(p));
  });

  it('a model whose bytes do not match the asked sha256 is DATA_LOSS', async () => {
    service.lieAboutHash = true;
    try {
      await expect(link.fetchModel(hex(model))).rejects.toMatchObject({ code: 'DATA_LOSS' });
    } finally {
      service.lieAboutHash = false;
    }
  });

  it('a bad token is UNAUTHENTICATED on every call, streams included', async () => {
    const bad = new GrpcLink({ address: addr(), siteId: 'a', token: 'guess', credentials: channelCredentials(addr(), 'insecure') });
    try {
      await expect(bad.heartbeat(0)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      await expect(bad.fetchModel(hex(model))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      const r = { round: 1, kind: 'evaluate' as const, numExamples: 1, metrics: {}, isDelta: false, baseSha256: '', payload: payload(3 * MB, 1) };
      await expect(bad.pushResult(r)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      bad.close();
    }
  });

  it('an unreachable coordinator is UNAVAILABLE (a transient error the agent retries)', async () => {
    const gone = new GrpcLink({ address: '127.0.0.1:1', siteId: 'a', token: 'secret', credentials: channelCredentials('127.0.0.1:1', 'insecure') });
    try {
      await expect(gone.heartbeat(0)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    } finally {
      gone.close();
    }
  });
});

describe('transport credentials', () => {
  it('plain text only on loopback', () => {
    expect(() => serverCredentials('0.0.0.0', 'insecure')).toThrow(/only allowed on loopback/);
    expect(() => channelCredentials('10.1.2.3:50051', 'insecure')).toThrow(/loopback/);
    expect(() => channelCredentials('[::1]:50051', 'insecure')).not.toThrow();
  });
});
