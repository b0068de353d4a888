import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpackTensors } from '../../core/tensors.ts';
import { openCoordinator, type Coordinator } from '../../coordinator/coordinator.ts';
import { runAgent } from '../../client/agent.ts';
import { ToyTrainer } from '../../client/toy-trainer.ts';
import { InProcessLink } from '../../proto/in-process-link.ts';
import { federationConfig, INITIAL, SITES, tempDir, tokenHashes, TOKENS, weightedTarget } from './fixtures.ts';
import { closeCoordinatorAfterEach } from '../helpers/coordinator.ts';

const FAST = { initialMs: 10, maxMs: 50, multiplier: 2, jitter: 0.1, giveUpMs: 10_000 };

describe('a federation in one process (the same agent code a hospital runs)', () => {
  let coord: Coordinator | null = null;
  closeCoordinatorAfterEach(() => coord);

  it('runs two FedAvg rounds whose global model matches the closed form', async () => {
    const dir = tempDir('inproc');
    const config = federationConfig(dir);
    coord = await openCoordinator(config, tokenHashes());
    const agents = Object.keys(SITES).map((id) =>
      runAgent({ siteId: id, link: new InProcessLink(coord!.service, id, TOKENS[id]), trainer: new ToyTrainer(SITES[id]), backoff: FAST, sendDelta: id === 'b' }),
    );
    const reports = await Promise.all(agents);
    const summaries = await coord.finished;
    expect(reports.map((r) => r.trainedRounds)).toEqual([[1, 2], [1, 2], [1, 2]]);
    expect(summaries.map((s) => s.round)).toEqual([1, 2]);

    // Toy training: each site returns t + c·(w − t), c = (1 − lr)^E = 0.25, so FedAvg gives
    // w' = (1 − c)·t̄ + c·w with t̄ the example-weighted target. Two rounds from w0:
    const c = 0.25;
    const expected = INITIAL.map((t, i) => {
      const tbar = weightedTarget(i);
      return Array.from(t.data, (w0, j) => (1 - c * c) * tbar[j] + c * c * w0);
    });
    const final = unpackTensors(new Uint8Array(readFileSync(path.join(config.stateDir, 'final-model.fkw'))));
    expect(final.map((t) => t.name)).toEqual(['dense/kernel', 'dense/bias']);
    final.forEach((t, i) => expected[i].forEach((v, j) => expect(t.data[j]).toBeCloseTo(v, 5)));

    // per-site evaluation of round 2's model: the toy AUC is 1/(1 + mean ½(w − t)²)
    const ev = summaries[1].evaluation!;
    const aucs = Object.keys(SITES).map((id) => {
      const s = SITES[id];
      let sq = 0;
      final.forEach((t, i) => t.data.forEach((w, j) => (sq += 0.5 * (w - s.targets[i][j]) ** 2)));
      return 1 / (1 + sq / 6);
    });
    Object.keys(SITES).forEach((id, k) => expect(ev.auc[id]).toBeCloseTo(aucs[k], 6));
    expect(ev.meanAuc).toBeCloseTo(aucs.reduce((s, v) => s + v, 0) / 3, 6);
    expect(ev.spreadAuc).toBeCloseTo(Math.max(...aucs) - Math.min(...aucs), 6);

    const rounds = JSON.parse(readFileSync(path.join(config.stateDir, 'rounds.json'), 'utf8')) as { round: number }[];
    expect(rounds.map((r) => r.round)).toEqual([1, 2]);
    const actions = coord.store.auditLog().map((a) => `${a.siteId}:${a.action}`);
    for (const id of Object.keys(SITES)) {
      expect(actions).toContain(`${id}:register`);
      expect(actions.filter((a) => a === `${id}:fetch`).length).toBeGreaterThanOrEqual(2);
      expect(actions.filter((a) => a === `${id}:push`)).toHaveLength(4);
    }
  });
});

describe('task long poll', () => {
  it('a waiting site hears of a new round as soon as it starts, not at its next poll', async () => {
    const dir = tempDir('longpoll');
    const coord = await openCoordinator(federationConfig(dir, { longPollMs: 5000, pollMs: 5000 }), tokenHashes());
    try {
      const s = coord.service;
      for (const id of ['a', 'b']) await s.register({ siteId: id, token: TOKENS[id] }, { datasetSize: 1, capabilities: {} });
      const t0 = Date.now();
      const pending = s.pullTask({ siteId: 'a', token: TOKENS.a });
      await new Promise((r) => setTimeout(r, 300));
      await s.register({ siteId: 'c', token: TOKENS.c }, { datasetSize: 1, capabilities: {} }); // the third site: round 1 can start
      const task = await pending;
      const waited = Date.now() - t0;
      expect(task.kind).toBe('train');
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(3000);
    } finally {
      coord.close();
    }
  });
});
