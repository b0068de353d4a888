import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent, type AgentEvent } from '../../client/agent.ts';
import { ToyTrainer } from '../../client/toy-trainer.ts';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import { evaluateInt8 } from '../../cli/simulate/int8.ts';
import type { CalibrationState } from '../../coordinator/calibration-phase.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import type { CoordinatorPrecisionReport } from '../../coordinator/int8-student.ts';
import { unpackTensors } from '../../core/tensors.ts';
import { encodeWeights, decodeWeights } from '../../proto/convert.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import type { Task } from '../../proto/types.ts';
import { federationConfig, INITIAL, SITES, tempDir, tokenHashes, TOKENS, weightedTarget } from './fixtures.ts';
import { closeCoordinatorAfterEach } from '../helpers/coordinator.ts';

const FAST = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0.1, giveUpMs: 10_000 };

const readReport = (stateDir: string): CoordinatorPrecisionReport => JSON.parse(readFileSync(path.join(stateDir, 'final-model', 'report.json'), 'utf8')) as CoordinatorPrecisionReport;
const finalWeights = (stateDir: string): number[][] => unpackTensors(new Uint8Array(readFileSync(path.join(stateDir, 'final-model.fkw')))).map((t) => Array.from(t.data));

/** FedAvg of toy sites after `rounds` clean rounds from INITIAL: (1 − cᴿ)·t̄ + cᴿ·w0 with c = (1 − lr)^E = 0.25 (E = 2, lr = 0.5). */
function closedForm(rounds: number, sites = Object.values(SITES)): number[][] {
  const cr = 0.25 ** rounds;
  return INITIAL.map((t, i) => {
    const tbar = weightedTarget(i, sites);
    return Array.from(t.data, (w0, j) => (1 - cr) * tbar[j] + cr * w0);
  });
}

const expectClose = (got: number[][], want: number[][]): void => {
  expect(got.map((t) => t.length)).toEqual(want.map((t) => t.length));
  got.forEach((t, i) => t.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 5)));
};

describe('a quantize block with sites that cannot calibrate', () => {
  let coord: Coordinator | null = null;
  closeCoordinatorAfterEach(() => coord);

  it('toy sites (no calibrate): the run finishes, the final model is plain FedAvg, report.json says int8 skipped', async () => {
    const dir = tempDir('calib-skip');
    const config = federationConfig(dir, { quantize: { method: 'percentile' } });
    expect(config.quantize!.maxMissedDeadlines).toBe(3);
    coord = await openCoordinator(config, tokenHashes());
    const tasks: Task['kind'][] = [];
    const onEvent = (e: AgentEvent): void => void (e.type === 'task' && tasks.push(e.task.kind));
    const reports = await Promise.all(
      Object.keys(SITES).map((id) => runAgent({ siteId: id, link: new InProcessLink(coord!.service, id, TOKENS[id]), trainer: new ToyTrainer(SITES[id]), backoff: FAST, onEvent })),
    );
    await coord.finished;
    expect(reports.map((r) => [r.trainedRounds, r.calibratedRounds])).toEqual(Array(3).fill([[1, 2], undefined]));
    expect(tasks).not.toContain('calibrate');
    expect(tasks.filter((k) => k === 'done')).toHaveLength(3);
    // the agent announces calibrate: 'no' and keeps the trainer's own capabilities
    for (const id of Object.keys(SITES)) expect(coord.store.site(id)!.capabilities).toEqual({ trainer: 'toy', calibrate: 'no' });

    expectClose(finalWeights(config.stateDir), closedForm(2));
    const report = readReport(config.stateDir);
    expect(report).toMatchObject({ int8: 'skipped', rows: [], chosen: { precision: 'fp32' }, calibration: { method: 'percentile', sites: 0, images: 0 } });
    expect(report.calibration.skipped).toBe('no live site can calibrate (a, b, c registered without calibrate support)');
    for (const f of ['model.int8.onnx', 'model.fp32.onnx', 'calibration.fkw']) expect(existsSync(path.join(config.stateDir, 'final-model', f))).toBe(false);
    const log = coord.store.auditLog();
    expect(log.filter((e) => e.action === 'calibration-skipped').map((e) => e.detail)).toEqual([report.calibration.skipped]);
    expect(log.filter((e) => e.action === 'calibration-phase')).toEqual([]);
    // fedkd simulate has no INT8 student to evaluate then, and says so instead of failing
    expect(await evaluateInt8(loadSimulateConfig(undefined, true), ['a'], path.join(config.stateDir, 'final-model'))).toBeUndefined();
    expect(existsSync(path.join(config.stateDir, 'final-model', 'int8'))).toBe(false);
  }, 30_000);

  it('an older client (no calibrate key) that never answers: skipped after maxMissedDeadlines deadlines, counted across a restart', async () => {
    const dir = tempDir('calib-deadlines');
    const config = federationConfig(dir, {
      rounds: 1,
      evaluate: false,
      sampling: { fraction: 1, minSites: 2, minResults: 2 },
      deadlines: { roundSeconds: 60, evaluateSeconds: 60, siteTimeoutSeconds: 600 },
      quantize: { method: 'minmax', maxMissedDeadlines: 2 },
    });
    let offset = 0;
    const clock = (): number => Date.now() + offset;
    const sites = ['a', 'b'];
    const open = async (): Promise<Record<string, InProcessLink>> => {
      coord = await openCoordinator(config, tokenHashes(sites), clock);
      return Object.fromEntries(sites.map((id) => [id, new InProcessLink(coord!.service, id, TOKENS[id])]));
    };
    const state = (): CalibrationState => JSON.parse(coord!.store.getMeta('calibration')!) as CalibrationState;
    let links = await open();
    // what a client from before the capability did: register without it, train, sit calibrate tasks out
    for (const id of sites) await links[id].register({ datasetSize: SITES[id].numExamples, capabilities: {} });
    for (const id of sites) {
      const t = await links[id].pullTask();
      expect(t.kind).toBe('train');
      const out = await new ToyTrainer(SITES[id]).fit(decodeWeights(await links[id].fetchModel(t.modelSha256)), t.config!);
      const push = { round: 1, kind: 'train' as const, numExamples: out.numExamples, metrics: out.metrics, isDelta: false, baseSha256: t.modelSha256, payload: encodeWeights(out.weights) };
      expect((await links[id].pushResult(push)).status).toBe('accepted');
    }
    await coord!.engine.tick();
    expect(state()).toMatchObject({ phase: 'ranges', sites });
    expect((await links.a.pullTask()).kind).toBe('calibrate');

    offset += 61_000;
    await coord!.engine.tick();
    expect(state()).toMatchObject({ phase: 'ranges', sites, missed: 1 });
    expect(coord!.engine.finished()).toBe(false);

    coord!.close();
    links = await open();
    await coord!.engine.tick();
    expect(state()).toMatchObject({ phase: 'ranges', missed: 1 });
    expect((await links.b.pullTask()).kind).toBe('calibrate');

    offset += 61_000;
    await coord!.engine.tick();
    await coord!.finished;
    const reason = 'ranges phase: no site answered in 2 deadlines of 60 s (asked a, b)';
    expect(state()).toMatchObject({ phase: 'complete', skipped: reason });
    expect((await links.a.pullTask()).kind).toBe('done');
    expect(readReport(config.stateDir)).toMatchObject({ int8: 'skipped', calibration: { skipped: reason } });
    expectClose(finalWeights(config.stateDir), closedForm(1, [SITES.a, SITES.b]));

    // a restart after the decision keeps it: finished at once, one skip in the audit log
    coord!.close();
    await open();
    await coord!.finished;
    expect(state().skipped).toBe(reason);
    const log = coord!.store.auditLog();
    expect(log.filter((e) => e.action === 'calibration-skipped').map((e) => e.detail)).toEqual([reason]);
    expect(log.filter((e) => e.action === 'calibration-phase').map((e) => e.detail)).toEqual([
      'calibration (minmax) of the final model: ranges phase, asked a, b',
      'calibration ranges phase: no answer by deadline 1 of 2; asked a, b',
    ]);
  }, 30_000);
});
