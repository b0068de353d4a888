import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederationService } from '../../proto/api.ts';
import { serverCredentials } from '../../proto/credentials.ts';
import { serveFederation, type RunningServer } from '../../proto/grpc-server.ts';
import { FLOW_CONTROL_WINDOW } from '../../proto/server-window.ts';

const idle = async (): Promise<never> => {
  throw new Error('not called');
};
const service: FederationService = { authenticate: idle, register: idle, pullTask: idle, fetchModel: idle, pushResult: idle, heartbeat: idle };

/** A raw HTTP/2 client's view of the server's receive windows, once both SETTINGS and the first WINDOW_UPDATE are in. */
async function windowsSeenByAClient(port: number): Promise<{ streamWindow: number; connectionWindow: number }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const settings = await new Promise<http2.Settings>((resolve, reject) => {
      session.once('remoteSettings', resolve);
      session.once('error', reject);
    });
    // a PING round trip: the server's WINDOW_UPDATE, sent with its SETTINGS, has arrived by then
    await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
    return { streamWindow: settings.initialWindowSize ?? 65535, connectionWindow: session.state.remoteWindowSize ?? 0 };
  } finally {
    session.close();
  }
}

describe('server flow-control windows (grpc-js keeps 64 KB on the server unless widened)', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serveFederation(service, { host: '127.0.0.1', port: 0, credentials: serverCredentials('127.0.0.1', 'insecure') });
  });
  afterAll(() => server.stop());

  it('advertises the wide stream window and opens the connection window to match', async () => {
    const w = await windowsSeenByAClient(server.port);
    expect(w.streamWindow).toBe(FLOW_CONTROL_WINDOW);
    expect(w.connectionWindow).toBe(FLOW_CONTROL_WINDOW);
  });

  it('Node keeps 64 KB without it (the reference the first test differs from)', async () => {
    const plain = http2.createServer();
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const w = await windowsSeenByAClient((plain.address() as { port: number }).port);
      expect(w).toEqual({ streamWindow: 65535, connectionWindow: 65535 });
    } finally {
      await new Promise<void>((r) => plain.close(() => r()));
    }
  });
});
