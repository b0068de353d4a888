import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent, type AgentEvent } from '../../client/agent.ts';
import { ToyTrainer } from '../../client/toy-trainer.ts';
import { StateStore } from '../../coordinator/store.ts';
import { unpackTensors } from '../../core/tensors.ts';
import { channelCredentials } from '../../proto/credentials.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { ROOT } from '../helpers/cli.ts';
import { coordinatorFolder, exited, INITIAL, SITES, TOKENS, weightedTarget } from './fixtures.ts';

const ROUNDS = 4;

describe('crash recovery: the coordinator killed with SIGKILL mid-run', () => {
  it('resumes the same run; no accepted result lost or counted twice; sites reconnect by themselves', async () => {
    const { dir, port, config } = await coordinatorFolder('crash', [`rounds: ${ROUNDS}`, 'sampling: { fraction: 1, minSites: 3, minResults: 3 }', 'deadlines: { roundSeconds: 300, evaluateSeconds: 300, siteTimeoutSeconds: 300 }', 'training: { localEpochs: 2 }', 'pollMs: 50']);
    const env = { ...process.env, FEDKD_PROGRESS: '0', FEDKD_TOKENS: Object.entries(TOKENS).map(([s, t]) => `${s}=${t}`).join(',') };
    let child: ChildProcess;
    let stdout = '';
    let stderr = '';
    const start = (): ChildProcess => {
      stdout = '';
      const c = spawn(process.execPath, [path.join(ROOT, 'bin', 'fedkd.js'), 'coordinator', '--config', config, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout!.on('data', (d) => (stdout += d));
      c.stderr!.on('data', (d) => (stderr += d));
      return c;
    };
    let kills = 0;
    const killAndRestart = async (): Promise<void> => {
      const old = child;
      old.kill('SIGKILL');
      await exited(old);
      kills++;
      child = start();
    };
    child = start();

    // kill points: right after a site's round-2 update was accepted (others still training),
    // right after a round-3 evaluation was accepted, and 150 ms after that restart (mid start-up)
    const triggers = [
      (e: AgentEvent) => e.type === 'pushed' && e.round === 2 && e.kind === 'train',
      (e: AgentEvent) => e.type === 'pushed' && e.round === 3 && e.kind === 'evaluate',
    ];
    let pending: Promise<void> = Promise.resolve();
    const retries: Record<string, number> = { a: 0, b: 0, c: 0 };
    const onEvent = (site: string) => (e: AgentEvent) => {
      if (e.type === 'retry') retries[site]++;
      const i = triggers.findIndex((t) => t(e));
      if (i < 0) return;
      triggers.splice(i, 1);
      const second = triggers.length === 0;
      pending = pending.then(async () => {
        await killAndRestart();
        if (second) {
          await new Promise((r) => setTimeout(r, 150));
          await killAndRestart();
        }
      });
    };
    const backoff = { initialMs: 100, maxMs: 1000, multiplier: 1.6, jitter: 0.2, giveUpMs: 90_000 };
    const addr = `127.0.0.1:${port}`;
    const reports = await Promise.all(
      Object.keys(SITES).map((id) =>
        runAgent({
          siteId: id,
          link: new GrpcLink({ address: addr, siteId: id, token: TOKENS[id], credentials: channelCredentials(addr, 'insecure') }),
          trainer: new ToyTrainer({ ...SITES[id], epochMs: 100 }),
          backoff,
          onEvent: onEvent(id),
        }),
      ),
    );
    await pending;
    const code = await exited(child);
    expect(kills, stderr).toBe(3);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/resuming at round 2/);
    expect(stderr).toMatch(/resuming at round 3/);
    expect(Object.values(retries).reduce((s, n) => s + n, 0)).toBeGreaterThan(0);
    // a site may train a round twice only if its first push was lost with the process; it never fails to finish
    for (const r of reports) expect([...new Set(r.trainedRounds)]).toEqual([1, 2, 3, 4]);

    // every round counted each site's update exactly once
    const store = new StateStore(path.join(dir, 'state', 'state.sqlite'));
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        expect(store.results(round, 'train', 'accepted').map((r) => r.siteId).sort()).toEqual(['a', 'b', 'c']);
        expect(store.results(round, 'evaluate', 'accepted').map((r) => r.siteId).sort()).toEqual(['a', 'b', 'c']);
      }
      expect(store.rounds().map((r) => r.phase)).toEqual(Array(ROUNDS).fill('closed'));
    } finally {
      store.close();
    }
    // ... so the final model is the closed form of four clean FedAvg rounds: (1 − c⁴)·t̄ + c⁴·w0, c = (1 − 0.5)² = 0.25
    const c4 = 0.25 ** 4;
    const final = unpackTensors(new Uint8Array(readFileSync(path.join(dir, 'state', 'final-model.fkw'))));
    final.forEach((t, i) => {
      const tbar = weightedTarget(i);
      t.data.forEach((v, j) => expect(v).toBeCloseTo((1 - c4) * tbar[j] + c4 * INITIAL[i].data[j], 5));
    });
    const summary = JSON.parse(stdout.trim()) as { rounds: { round: number }[] };
    expect(summary.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
  });
});
