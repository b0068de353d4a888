import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import { ToyTrainer } from '../../client/toy-trainer.ts';
import { parseTokens } from '../../coordinator/auth.ts';
import { makeTrialCredentials, type TrialCredentials } from '../../coordinator/certs.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/server.ts';
import { channelCredentials } from '../../proto/credentials.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { runCli } from '../helpers/cli.ts';
import { federationConfig, SITES, tempDir } from './fixtures.ts';

const FAST = { initialMs: 20, maxMs: 100, multiplier: 2, jitter: 0.1, giveUpMs: 20_000 };

describe('mutual TLS between sites and coordinator', () => {
  let creds: TrialCredentials;
  let running: RunningCoordinator;
  let addr: string;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir('tls');
    creds = makeTrialCredentials(['a', 'b', 'c'], ['localhost', '127.0.0.1']);
    const put = (name: string, s: string): string => {
      writeFileSync(path.join(dir, name), s);
      return path.join(dir, name);
    };
    const tls = { ca: put('ca.crt', creds.ca.cert), cert: put('coord.crt', creds.coordinator.cert), key: put('coord.key', creds.coordinator.key), requireClientCert: true };
    const config = federationConfig(dir, { insecure: false, tls, rounds: 1 });
    running = await startCoordinator(config, parseTokens(creds.tokensFile, 'tokens'));
    addr = `127.0.0.1:${running.port}`;
  });
  afterAll(async () => {
    await running.stop();
  });

  const link = (site: string, certOf: string | null, token: string, ca = creds.ca.cert): GrpcLink =>
    new GrpcLink({
      address: addr,
      siteId: site,
      token,
      credentials: channelCredentials(addr, { ca: Buffer.from(ca), cert: certOf ? Buffer.from(creds.sites[certOf].cert) : undefined, key: certOf ? Buffer.from(creds.sites[certOf].key) : undefined }),
    });

  it('refuses a site without a client certificate', async () => {
    const l = link('a', null, creds.sites.a.token);
    await expect(l.heartbeat(0)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    l.close();
  });

  it('refuses a coordinator signed by another CA', async () => {
    const other = makeTrialCredentials(['a'], ['localhost']);
    const l = link('a', 'a', creds.sites.a.token, other.ca.cert);
    await expect(l.heartbeat(0)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    l.close();
  });

  it("refuses site a's token over site b's certificate (UNAUTHENTICATED, audited)", async () => {
    const l = link('a', 'b', creds.sites.a.token);
    await expect(l.heartbeat(0)).rejects.toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/certificate is for 'b'/) });
    l.close();
    expect(running.coordinator.store.auditLog().some((e) => e.action === 'unauthenticated' && e.detail === "certificate is for 'b'")).toBe(true);
  });

  it('runs a round over mutual TLS', async () => {
    const agents = (['a', 'b', 'c'] as const).map((id) => runAgent({ siteId: id, link: link(id, id, creds.sites[id].token), trainer: new ToyTrainer(SITES[id]), backoff: FAST }));
    const reports = await Promise.all(agents);
    expect(reports.map((r) => r.trainedRounds)).toEqual([[1], [1], [1]]);
    const summaries = await running.finished;
    expect(summaries[0].train.sites).toEqual(['a', 'b', 'c']);
  });
});

describe('fedkd certs', () => {
  it('writes a CA, coordinator and site certificates that verify, secret keys 0600, and hashed tokens', () => {
    const out = tempDir('certs');
    const r = runCli(['certs', '--out', out, '--sites', 'north,south', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).files).toHaveLength(11);
    const ca = new X509Certificate(readFileSync(path.join(out, 'ca.crt')));
    const coord = new X509Certificate(readFileSync(path.join(out, 'coordinator.crt')));
    expect(coord.verify(ca.publicKey)).toBe(true);
    expect(coord.checkHost('localhost')).toBe('localhost');
    expect(coord.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const tokens = readFileSync(path.join(out, 'tokens.txt'), 'utf8');
    for (const s of ['north', 'south']) {
      const cert = new X509Certificate(readFileSync(path.join(out, 'sites', `${s}.crt`)));
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subject).toContain(`CN=${s}`);
      expect(statSync(path.join(out, 'sites', `${s}.key`)).mode & 0o777).toBe(0o600);
      const token = readFileSync(path.join(out, 'sites', `${s}.token`), 'utf8').trim();
      expect(tokens).toContain(`${s} sha256:${createHash('sha256').update(token).digest('hex')}`);
      expect(tokens).not.toContain(token);
    }
    expect(statSync(path.join(out, 'ca.key')).mode & 0o777).toBe(0o600);
  });

  it('rejects a bad site id with one line and exit code 2', () => {
    const r = runCli(['certs', '--out', tempDir('certs'), '--sites', 'a,b b']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
