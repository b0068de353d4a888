import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../client/agent.ts';
import { ToyTrainer } from '../../client/toy-trainer.ts';
import type { CoordinatorPrecisionReport } from '../../coordinator/int8-student.ts';
import { StateStore } from '../../coordinator/store.ts';
import { unpackTensors } from '../../core/tensors.ts';
import type { CoordinatorLink } from '../../proto/api.ts';
import { channelCredentials } from '../../proto/credentials.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { ROOT } from '../helpers/cli.ts';
import { coordinatorFolder, exited, INITIAL, SITES, TOKENS, weightedTarget } from './fixtures.ts';

/** A client from before the `calibrate` capability: registers without the key (so it counts as able) and sits calibrate tasks out. */
function olderClient(link: CoordinatorLink): CoordinatorLink {
  return {
    register: (reg) => link.register({ ...reg, capabilities: Object.fromEntries(Object.entries(reg.capabilities).filter(([k]) => k !== 'calibrate')) }),
    pullTask: () => link.pullTask(),
    fetchModel: (sha) => link.fetchModel(sha),
    pushResult: (r) => link.pushResult(r),
    heartbeat: (round) => link.heartbeat(round),
    close: () => link.close(),
  };
}

describe('a skipped calibration survives SIGKILL', () => {
  it('the missed-deadline count outlives a killed coordinator: skipped after 3 deadlines in all, the run exits 0', async () => {
    const { dir, port, config } = await coordinatorFolder('calib-crash', ['rounds: 1', 'evaluate: false', 'sampling: { fraction: 1, minSites: 2, minResults: 2 }', 'deadlines: { roundSeconds: 1, evaluateSeconds: 1, siteTimeoutSeconds: 300 }', 'training: { localEpochs: 2 }', 'quantize: { method: minmax, maxMissedDeadlines: 3 }', 'pollMs: 50', 'longPollMs: 0']);
    const env = { ...process.env, FEDKD_PROGRESS: '0', FEDKD_TOKENS: `a=${TOKENS.a},b=${TOKENS.b}` };
    let stderr = '';
    const start = (onErr: (all: string) => void = () => {}): ChildProcess => {
      const c = spawn(process.execPath, [path.join(ROOT, 'bin', 'fedkd.js'), 'coordinator', '--config', config], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      c.stderr!.on('data', (d) => {
        stderr += d;
        onErr(stderr);
      });
      return c;
    };

    let second: ChildProcess | null = null;
    let killed: Promise<void> | null = null;
    const first = start((all) => {
      if (killed || !all.includes('no answer by deadline 1 of 3')) return;
      // the extension is committed before it is logged: kill right after it, then start again
      first.kill('SIGKILL');
      killed = exited(first).then(() => void (second = start()));
    });
    const addr = `127.0.0.1:${port}`;
    const backoff = { initialMs: 100, maxMs: 500, multiplier: 1.6, jitter: 0.2, giveUpMs: 60_000 };
    const reports = await Promise.all(
      ['a', 'b'].map((id) =>
        runAgent({
          siteId: id,
          link: olderClient(new GrpcLink({ address: addr, siteId: id, token: TOKENS[id], credentials: channelCredentials(addr, 'insecure') })),
          trainer: new ToyTrainer(SITES[id]),
          backoff,
        }),
      ),
    );
    expect(killed, stderr).not.toBeNull();
    await killed;
    expect(await exited(second!), stderr).toBe(0);
    expect(first.signalCode).toBe('SIGKILL');
    expect(stderr).toMatch(/resuming at round 1/);
    expect(reports.map((r) => [r.trainedRounds, r.calibratedRounds])).toEqual([[[1], undefined], [[1], undefined]]);

    const reason = 'ranges phase: no site answered in 3 deadlines of 1 s (asked a, b)';
    const store = new StateStore(path.join(dir, 'state', 'state.sqlite'));
    try {
      const log = store.auditLog().filter((e) => e.action.startsWith('calibration-'));
      expect(log.map((e) => `${e.action}: ${e.detail}`)).toEqual([
        'calibration-phase: calibration (minmax) of the final model: ranges phase, asked a, b',
        'calibration-phase: calibration ranges phase: no answer by deadline 1 of 3; asked a, b',
        'calibration-phase: calibration ranges phase: no answer by deadline 2 of 3; asked a, b',
        `calibration-skipped: ${reason}`,
      ]);
      for (const id of ['a', 'b']) expect(store.site(id)!.capabilities).toEqual({ trainer: 'toy' });
    } finally {
      store.close();
    }
    const report = JSON.parse(readFileSync(path.join(dir, 'state', 'final-model', 'report.json'), 'utf8')) as CoordinatorPrecisionReport;
    expect(report).toMatchObject({ int8: 'skipped', calibration: { skipped: reason } });
    // one clean FedAvg round of sites a and b: (1 − c)·t̄ + c·w0, c = (1 − 0.5)² = 0.25
    const final = unpackTensors(new Uint8Array(readFileSync(path.join(dir, 'state', 'final-model.fkw'))));
    final.forEach((t, i) => {
      const tbar = weightedTarget(i, [SITES.a, SITES.b]);
      t.data.forEach((v, j) => expect(v).toBeCloseTo(0.75 * tbar[j] + 0.25 * INITIAL[i].data[j], 5));
    });
  }, 60_000);
});
