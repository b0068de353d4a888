import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchPayload as payload } from '../../bench/payload.ts';
import type { FederationService } from '../../proto/api.ts';
import { encodeModelChunk, resultChunkSerializer, ScratchEncoder } from '../../proto/chunk-codec.ts';
import { channelCredentials, serverCredentials } from '../../proto/credentials.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { serveFederation, type RunningServer } from '../../proto/grpc-server.ts';
import type { ReceivedResult } from '../../proto/types.ts';
import { federationService, type WireModelChunk, type WireResultChunk, type WireResultHeader } from '../../proto/wire.ts';

const MB = 1024 * 1024;
const hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
// the reference: proto-loader's own (protobufjs) serializers
const resultDef = federationService().PushResult as grpc.MethodDefinition<WireResultChunk, object>;
const modelDef = federationService().FetchModel as grpc.MethodDefinition<object, WireModelChunk>;
const header: WireResultHeader = {
  round: 7,
  kind: 'TRAIN',
  numExamples: 2 ** 40 + 5,
  metricsJson: '{"auc":0.81,"site":"Zürich"}',
  isDelta: true,
  baseSha256: 'b'.repeat(64),
  totalBytes: 5 * 1024 ** 3 + 3,
  sha256: '',
};

describe('chunk codec: the same bytes as protobufjs', () => {
  const data = payload(300_001, 3);
  const sha = hex(data);

  it('encodes ResultChunk with and without header, data and trailing sha256', () => {
    const cases: WireResultChunk[] = [
      { data },
      { data, sha256: sha },
      { header, data },
      { header, data: new Uint8Array(0), sha256: sha },
      { data: new Uint8Array(0) },
      { header: null, data: data.subarray(5, 200), sha256: '' },
    ];
    const serialize = resultChunkSerializer(resultDef.requestSerialize);
    for (const m of cases) {
      const ours = Buffer.from(serialize(m));
      expect(ours.equals(resultDef.requestSerialize(m))).toBe(true);
      const back = resultDef.requestDeserialize(ours);
      expect(Buffer.from(back.data).equals(Buffer.from(m.data))).toBe(true);
      expect(back.sha256).toBe(m.sha256 ?? '');
    }
  });

  it('encodes ModelChunk, sizes past 2^32 included', () => {
    const cases: WireModelChunk[] = [
      { totalBytes: 5 * 1024 ** 3 + 3, sha256: sha, data },
      { totalBytes: 0, sha256: '', data },
      { totalBytes: 127, sha256: sha, data: new Uint8Array(0) },
      { totalBytes: 128, sha256: '', data: data.subarray(0, 1) },
    ];
    for (const m of cases) {
      const ours = Buffer.from(encodeModelChunk(m));
      expect(ours.equals(modelDef.responseSerialize(m))).toBe(true);
      expect(modelDef.responseDeserialize(ours)).toMatchObject({ totalBytes: m.totalBytes, sha256: m.sha256 });
    }
  });

  it('reuses one buffer: a message is valid until the next one', () => {
    const enc = new ScratchEncoder();
    const a = enc.encode([{ no: 2, bytes: Uint8Array.from([1, 2, 3]) }]);
    expect([...a]).toEqual([0x12, 3, 1, 2, 3]);
    const b = enc.encode([{ no: 2, bytes: Uint8Array.from([9, 9, 9]) }]);
    expect(b.buffer).toBe(a.buffer);
    expect([...a]).toEqual([0x12, 3, 9, 9, 9]);
    expect([...enc.encode([{ no: 1, varint: 300 }, { no: 3, text: 'é' }])]).toEqual([0x08, 0xac, 0x02, 0x1a, 2, 0xc3, 0xa9]);
  });
});

describe('chunk codec over gRPC: concurrent calls never share a buffer', () => {
  const model = payload(9 * MB + 77, 21);
  const received: ReceivedResult[] = [];
  const ok = async (): Promise<void> => {};
  const service: FederationService = {
    authenticate: ok,
    register: async () => ({ runId: 'r', heartbeatMs: 1000 }),
    pullTask: async () => ({ kind: 'wait', round: 0, modelSha256: '', config: null, retryAfterMs: 0 }),
    fetchModel: async () => model,
    pushResult: async (_c, r) => {
      received.push(r);
      return { status: 'accepted', detail: hex(r.payload) };
    },
    heartbeat: async () => ({ serverTimeMs: 0 }),
  };
  let server: RunningServer;
  let links: GrpcLink[];

  beforeAll(async () => {
    server = await serveFederation(service, { host: '127.0.0.1', port: 0, credentials: serverCredentials('127.0.0.1', 'insecure') });
    const addr = `127.0.0.1:${server.port}`;
    links = ['a', 'b'].map((s) => new GrpcLink({ address: addr, siteId: s, token: 't', credentials: channelCredentials(addr, 'insecure') }));
  });
  afterAll(async () => {
    links.forEach((l) => l.close());
    await server.stop();
  });

  it('four pushes at once, two per channel, arrive byte for byte', async () => {
    const payloads = [5, 6, 7, 8].map((seed) => payload(4 * MB + seed * 1001, seed));
    const push = (p: Uint8Array, k: number): Promise<unknown> =>
      links[k % 2].pushResult({ round: k, kind: 'train', numExamples: 1, metrics: {}, isDelta: false, baseSha256: '', payload: p });
    const replies = await Promise.all(payloads.map(push));
    expect(replies.map((r) => (r as { detail: string }).detail)).toEqual(payloads.map(hex));
    expect(received.map((r) => hex(r.payload)).sort()).toEqual(payloads.map(hex).sort());
  });

  it('three fetches at once, over two channels, arrive byte for byte', async () => {
    const got = await Promise.all([links[0], links[1], links[0]].map((l) => l.fetchModel(hex(model))));
    for (const g of got) expect(hex(g)).toBe(hex(model));
  });
});
