import { describe, expect, it } from 'vitest';
import { packTensors, type NamedTensor } from '../../core/tensors.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import { sampleSites } from '../../coordinator/sampling.ts';
import type { Caller, ReceivedResult } from '../../proto/types.ts';
import { federationConfig, INITIAL, tempDir, tensor, tokenHashes, TOKENS } from '../federation/fixtures.ts';
import { closeCoordinatorAfterEach } from '../helpers/coordinator.ts';

const caller = (id: string): Caller => ({ siteId: id, token: TOKENS[id] });
const update = (round: number, base: string, weights: NamedTensor[], n = 10, kind: 'train' | 'evaluate' = 'train'): ReceivedResult => ({
  round,
  kind,
  numExamples: n,
  metrics: { loss: 1 },
  isDelta: false,
  baseSha256: base,
  payload: kind === 'train' ? packTensors(weights) : new Uint8Array(0),
});
const ones = (v: number): NamedTensor[] => [tensor('dense/kernel', [v, v, v, v], [2, 2]), tensor('dense/bias', [v, v])];

describe('round engine (fake clock)', () => {
  let coord: Coordinator | null = null;
  let clock = 1_000_000;
  const now = (): number => clock;
  closeCoordinatorAfterEach(() => coord);

  async function start(overrides: Record<string, unknown> = {}, dir = tempDir('rounds')) {
    clock = 1_000_000;
    const config = federationConfig(dir, overrides);
    coord = await openCoordinator(config, tokenHashes(), now);
    for (const id of ['a', 'b', 'c']) await coord.service.register(caller(id), { datasetSize: 10, capabilities: {} });
    const task = await coord.service.pullTask(caller('a'));
    return { config, dir, task };
  }

  it('closes at the deadline with enough results; a later result is recorded as late and ignored', async () => {
    const { task } = await start();
    expect(task).toMatchObject({ kind: 'train', round: 1, config: { round: 1, localEpochs: 2 } });
    const s = coord!.service;
    expect(await s.pushResult(caller('a'), update(1, task.modelSha256, ones(1), 10))).toMatchObject({ status: 'accepted' });
    expect(await s.pushResult(caller('b'), update(1, task.modelSha256, ones(4), 30))).toMatchObject({ status: 'accepted' });
    await coord!.engine.tick();
    expect(coord!.store.lastRound()!.phase).toBe('train'); // c still has time
    clock += 61_000;
    for (const id of ['a', 'b', 'c']) await s.heartbeat(caller(id), 0);
    await coord!.engine.tick();
    const r1 = coord!.store.lastRound()!;
    expect(r1.evalSites).toEqual(['a', 'b', 'c']);
    expect(r1.phase).toBe('evaluate');
    const late = await s.pushResult(caller('c'), update(1, task.modelSha256, ones(100), 60));
    expect(late.status).toBe('late');
    expect(coord!.store.results(1, 'train', 'late').map((r) => r.siteId)).toEqual(['c']);
    // the global model is (10·1 + 30·4)/40 = 3.25 everywhere: c's late update did not count
    const model = await s.fetchModel(caller('a'), r1.modelOut!);
    const { unpackTensors } = await import('../../core/tensors.ts');
    for (const t of unpackTensors(model)) for (const v of t.data) expect(v).toBeCloseTo(3.25, 6);
  });

  it('reaches the same global model whatever order the sites answer in', async () => {
    // weights for which the example-weighted float sum itself depends on the order of its terms
    const w = (k: number[], b: number[]): NamedTensor[] => [tensor('dense/kernel', k, [2, 2]), tensor('dense/bias', b)];
    const sites: Record<string, { n: number; w: NamedTensor[] }> = {
      a: { n: 10, w: w([0.8209948539733887, -0.1382168084383011, -0.8790560960769653, 0.9677320718765259], [-0.3998491168022156, 0.5010345578193665]) },
      b: { n: 30, w: w([0.7967170476913452, 0.40588754415512085, -0.39966005086898804, 0.06531581282615662], [-0.46114856004714966, -0.24971258640289307]) },
      c: { n: 20, w: w([0.41684797406196594, 0.10619814693927765, -0.8510465621948242, -0.01837747171521187], [0.48436036705970764, -0.206852525472641]) },
    };
    const { weightedMean } = await import('../../coordinator/strategies/aggregate.ts');
    const { unpackTensors } = await import('../../core/tensors.ts');
    const mean = (order: string[]): number[] => weightedMean(order.map((id) => ({ numExamples: sites[id].n, weights: sites[id].w }))).flatMap((t) => Array.from(t.data));
    expect(mean(['a', 'b', 'c'])).not.toEqual(mean(['c', 'b', 'a'])); // the fixture can tell the orders apart
    const models: number[][] = [];
    for (const order of [['a', 'b', 'c'], ['c', 'b', 'a'], ['b', 'c', 'a']]) {
      const { task } = await start();
      for (const id of order) expect((await coord!.service.pushResult(caller(id), update(1, task.modelSha256, sites[id].w, sites[id].n))).status).toBe('accepted');
      await coord!.engine.tick();
      const r = coord!.store.lastRound()!;
      models.push(unpackTensors(await coord!.service.fetchModel(caller('a'), r.modelOut!)).flatMap((t) => Array.from(t.data)));
      coord!.close();
      coord = null;
    }
    expect(models[1]).toEqual(models[0]);
    expect(models[2]).toEqual(models[0]);
    expect(models[0]).toEqual(mean(['a', 'b', 'c'])); // in site order
  });

  it('counts a repeated push once (idempotent per round and site)', async () => {
    const { task } = await start();
    const s = coord!.service;
    expect((await s.pushResult(caller('a'), update(1, task.modelSha256, ones(1)))).status).toBe('accepted');
    expect((await s.pushResult(caller('a'), update(1, task.modelSha256, ones(1)))).status).toBe('duplicate');
    expect(coord!.store.results(1, 'train', 'accepted')).toHaveLength(1);
    expect((await s.pullTask(caller('a'))).kind).toBe('wait');
  });

  it('rejects a bad update with a clear status, logs it, and the round goes on', async () => {
    const { task } = await start({ validation: { maxUpdateNorm: 10 } });
    const s = coord!.service;
    const nan = ones(1);
    nan[1].data[1] = NaN;
    await expect(s.pushResult(caller('a'), update(1, task.modelSha256, nan))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/non-finite/) });
    const shape = [tensor('dense/kernel', [1, 1, 1, 1], [4, 1]), tensor('dense/bias', [1, 1])];
    await expect(s.pushResult(caller('b'), update(1, task.modelSha256, shape))).rejects.toMatchObject({ message: expect.stringMatching(/shape \[4,1\], expected \[2,2\]/) });
    // ‖w − w0‖ with w = 5 everywhere, w0 = [0,0,0,1,0,0]: √(5·25 + 16) = √141 ≈ 11.87 > 10
    await expect(s.pushResult(caller('c'), update(1, task.modelSha256, ones(5)))).rejects.toMatchObject({ message: expect.stringMatching(/norm 11.87 exceeds the bound 10/) });
    expect(coord!.store.auditLog().filter((a) => a.action === 'push-rejected').map((a) => a.siteId)).toEqual(['a', 'b', 'c']);
    expect((await s.pullTask(caller('a'))).kind).toBe('wait'); // a rejected site is not asked to retrain this round
    expect(coord!.store.lastRound()!.phase).toBe('train');
  });

  it('extends a round that has too few results at its deadline', async () => {
    const { task } = await start();
    await coord!.service.pushResult(caller('a'), update(1, task.modelSha256, ones(1)));
    clock += 61_000;
    for (const id of ['a', 'b', 'c']) await coord!.service.heartbeat(caller(id), 0);
    await coord!.engine.tick();
    const r = coord!.store.lastRound()!;
    expect(r.phase).toBe('train');
    expect(r.deadlineMs).toBe(clock + 60_000);
    expect(coord!.store.auditLog().some((a) => a.action === 'round-extended')).toBe(true);
  });

  it('resumes the same run after a restart: accepted results kept, not counted twice', async () => {
    const { task, dir } = await start();
    await coord!.service.pushResult(caller('a'), update(1, task.modelSha256, ones(1), 10));
    coord!.close();
    const config = federationConfig(dir);
    coord = await openCoordinator(config, tokenHashes(), now);
    const s = coord.service;
    expect(coord.store.lastRound()).toMatchObject({ round: 1, phase: 'train', sampled: ['a', 'b', 'c'] });
    expect((await s.pushResult(caller('a'), update(1, task.modelSha256, ones(1), 10))).status).toBe('duplicate');
    await s.pushResult(caller('b'), update(1, task.modelSha256, ones(3), 10));
    await s.pushResult(caller('c'), update(1, task.modelSha256, ones(5), 20));
    await coord.engine.tick();
    const r = coord.store.lastRound()!;
    expect(r.phase).toBe('evaluate');
    const { unpackTensors } = await import('../../core/tensors.ts');
    // (10·1 + 10·3 + 20·5)/40 = 3.5
    for (const t of unpackTensors(await s.fetchModel(caller('b'), r.modelOut!))) for (const v of t.data) expect(v).toBeCloseTo(3.5, 6);
    coord.close();
    coord = null;
    await expect(openCoordinator(federationConfig(dir, { rounds: 5 }), tokenHashes(), now)).rejects.toThrow(/different config/);
  });

  it('refuses an unknown site or a bad token with UNAUTHENTICATED and an audit entry', async () => {
    await start();
    const s = coord!.service;
    await expect(s.pullTask({ siteId: 'mallory', token: 'x' })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.heartbeat({ siteId: 'a', token: TOKENS.b }, 0)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.fetchModel({ siteId: 'a', token: TOKENS.a, certCommonName: 'b' }, 'x')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const log = coord!.store.auditLog().filter((a) => a.action === 'unauthenticated');
    expect(log.map((a) => [a.siteId, a.detail])).toEqual([
      ['mallory', 'unknown site'],
      ['a', 'bad token'],
      ['a', "certificate is for 'b'"],
    ]);
    expect(JSON.stringify(coord!.store.auditLog())).not.toContain(TOKENS.b);
  });

  it('serves only published models', async () => {
    await start();
    await expect(coord!.service.fetchModel(caller('a'), 'f'.repeat(64))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(INITIAL).toHaveLength(2);
  });
});

describe('sampleSites', () => {
  it('takes ⌈fraction·n⌉ sites, at least minSites, the same for the same seed and round', () => {
    const live = ['a', 'b', 'c', 'd', 'e'];
    expect(sampleSites(live, 0.5, 1, 7, 1)).toHaveLength(3);
    expect(sampleSites(live, 0.1, 2, 7, 1)).toHaveLength(2);
    expect(sampleSites(live, 1, 9, 7, 1)).toEqual(live);
    expect(sampleSites(live, 0.4, 1, 7, 3)).toEqual(sampleSites([...live].reverse(), 0.4, 1, 7, 3));
    const picks = new Set(Array.from({ length: 20 }, (_, r) => sampleSites(live, 0.4, 1, 7, r).join()));
    expect(picks.size).toBeGreaterThan(3);
  });
});
