// The coordinator's end of the transfer bench (bench/federation.bench.ts), in a process of its
// own as in a real federation: it serves one model over loopback gRPC and accepts every push.
// Speaks to its parent over IPC: sends { port } once listening; answers 'cpu' with
// { cpuMs } (this process, all threads); stops on 'stop'.
import type { FederationService } from '../proto/api.ts';
import { serverCredentials } from '../proto/credentials.ts';
import { serveFederation } from '../proto/grpc-server.ts';
import { benchPayload } from './payload.ts';

/** Parent → peer. */
export type PeerRequest = 'cpu' | 'stop';
/** Peer → parent. */
export type PeerReply = { port: number } | { cpuMs: number };

async function main(): Promise<void> {
  const bytes = Number(process.env.FEDKD_PEER_BYTES);
  const model = benchPayload(bytes, 3);
  const ok = async (): Promise<void> => {};
  const service: FederationService = {
    authenticate: ok,
    register: async () => ({ runId: 'bench', heartbeatMs: 1000 }),
    pullTask: async () => ({ kind: 'wait', round: 0, modelSha256: '', config: null, retryAfterMs: 0 }),
    fetchModel: async () => model,
    pushResult: async (_c, r) => ({ status: 'accepted', detail: `${r.payload.length}` }),
    heartbeat: async () => ({ serverTimeMs: Date.now() }),
  };
  const server = await serveFederation(service, { host: '127.0.0.1', port: 0, credentials: serverCredentials('127.0.0.1', 'insecure') });
  const send = (m: PeerReply): boolean => process.send!(m);
  process.on('message', (m: PeerRequest) => {
    if (m === 'cpu') {
      const c = process.cpuUsage();
      send({ cpuMs: (c.user + c.system) / 1000 });
    } else if (m === 'stop') void server.stop().then(() => process.disconnect());
  });
  send({ port: server.port });
}

if (process.send) await main();
