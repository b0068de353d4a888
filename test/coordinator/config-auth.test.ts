import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashToken, loadTokens, parseTokens, tokenMatches } from '../../coordinator/auth.ts';
import { loadCoordinatorConfig, parseCoordinatorConfig } from '../../coordinator/config.ts';
import { summarizeEvaluation } from '../../coordinator/evaluation.ts';
import { validateUpdate } from '../../coordinator/validate.ts';
import { tempDir, tensor } from '../federation/fixtures.ts';

const minimal = { insecure: true, model: { initialWeights: 'w.fkw' }, rounds: 3 };

describe('coordinator config', () => {
  it('fills defaults: FedAvg, E = 3, all sites, at least 2', () => {
    const c = parseCoordinatorConfig(minimal);
    expect(c.strategy).toEqual({ name: 'fedavg' });
    expect(c.training.localEpochs).toBe(3);
    expect(c.sampling).toEqual({ fraction: 1, minSites: 2, minResults: 2 });
  });

  it('names the bad field', () => {
    expect(() => parseCoordinatorConfig({ ...minimal, rounds: 0 })).toThrow(/^config: rounds: /);
    expect(() => parseCoordinatorConfig({ ...minimal, sampling: { fraction: 1.5 } })).toThrow(/sampling\.fraction/);
    expect(() => parseCoordinatorConfig({ ...minimal, strategy: { name: 'fedprox' } })).toThrow(/strategy\.mu/);
    expect(() => parseCoordinatorConfig({ ...minimal, strategy: { name: 'fedavg', weighting: 'beds' } })).toThrow(/strategy\.weighting/);
    expect(parseCoordinatorConfig({ ...minimal, strategy: { name: 'fedavg', weighting: 'sites' } }).strategy).toEqual({ name: 'fedavg', weighting: 'sites' });
    expect(() => parseCoordinatorConfig({ ...minimal, sampling: { minSites: 2, minResults: 3 } })).toThrow(/sampling\.minResults: must not exceed/);
    expect(() => parseCoordinatorConfig({ ...minimal, insecure: false })).toThrow(/tls: give tls/);
  });

  it('refuses secrets in the config (unknown keys are errors)', () => {
    expect(() => parseCoordinatorConfig({ ...minimal, tokens: { a: 'secret' } })).toThrow(/tokens/);
  });

  it('reads YAML and resolves paths against the config folder', () => {
    const dir = tempDir('cfg');
    const file = path.join(dir, 'fed.yaml');
    writeFileSync(file, 'insecure: true\nrounds: 2\nmodel:\n  initialWeights: init/w.fkw\nstrategy:\n  name: fedyogi\n  eta: 0.1\n');
    const c = loadCoordinatorConfig(file);
    expect(c.model.initialWeights).toBe(path.join(dir, 'init', 'w.fkw'));
    expect(c.stateDir).toBe(path.join(dir, '.fedkd', 'coordinator'));
    expect(c.strategy).toEqual({ name: 'fedyogi', eta: 0.1 });
    writeFileSync(file, 'rounds: [1\n');
    expect(() => loadCoordinatorConfig(file)).toThrow(/not valid YAML/);
  });
});

describe('site tokens', () => {
  it('are stored as sha256 and compared against the hash', () => {
    // FIPS 180-2's test vector: sha256("abc")
    expect(hashToken('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const h = hashToken('s3cret');
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(tokenMatches(h, 's3cret')).toBe(true);
    expect(tokenMatches(h, 's3cret ')).toBe(false);
  });

  it('parse from a file of plain or pre-hashed tokens, or from FEDKD_TOKENS', () => {
    const pre = hashToken('beta');
    const t = parseTokens(`# sites\na alpha\nb ${pre}\n`, 'tokens.txt');
    expect(t.get('a')).toBe(hashToken('alpha'));
    expect(t.get('b')).toBe(pre);
    expect(() => parseTokens('a\n', 'tokens.txt')).toThrow(/tokens.txt:1/);
    expect(() => parseTokens('a x\na y\n', 'tokens.txt')).toThrow(/listed twice/);
    expect(loadTokens(undefined, { FEDKD_TOKENS: 'a=alpha,b=beta' }).get('b')).toBe(pre);
    expect(() => loadTokens(undefined, {})).toThrow(/no site tokens/);
  });
});

describe('update validation', () => {
  const g = [tensor('k', [0, 0]), tensor('b', [1])];
  it('accepts a matching finite update and reports its norm ‖w − g‖', () => {
    expect(validateUpdate(g, [tensor('k', [3, 4]), tensor('b', [1])], 5)).toEqual({ ok: true, norm: 5 });
  });
  it('rejects names, counts, shapes, non-finite values and a norm over the bound', () => {
    expect(validateUpdate(g, [tensor('k', [0, 0])])).toMatchObject({ ok: false, reason: 'expected 2 tensors, got 1' });
    expect(validateUpdate(g, [tensor('x', [0, 0]), tensor('b', [1])])).toMatchObject({ ok: false, reason: "tensor 0 is named 'x', expected 'k'" });
    expect(validateUpdate(g, [tensor('k', [0, 0], [2, 1]), tensor('b', [1])])).toMatchObject({ ok: false });
    expect(validateUpdate(g, [tensor('k', [0, Infinity]), tensor('b', [1])])).toMatchObject({ ok: false, reason: expect.stringMatching(/non-finite/) });
    expect(validateUpdate(g, [tensor('k', [3, 4]), tensor('b', [1])], 4.99)).toMatchObject({ ok: false });
  });
});

describe('evaluation summary', () => {
  it('per-site AUC, mean, spread and std; NaN AUCs left out', () => {
    const s = summarizeEvaluation([
      { siteId: 'a', numExamples: 10, metrics: { auc: 0.8, loss: 0.5 } },
      { siteId: 'b', numExamples: 30, metrics: { auc: 0.9, loss: 0.3 } },
      { siteId: 'c', numExamples: 5, metrics: { auc: NaN } },
    ]);
    expect(s.auc).toEqual({ a: 0.8, b: 0.9, c: NaN });
    expect(s.loss).toEqual({ a: 0.5, b: 0.3, c: NaN });
    expect(s.meanAuc).toBeCloseTo(0.85, 12);
    expect(s.spreadAuc).toBeCloseTo(0.1, 12);
    expect(s.stdAuc).toBeCloseTo(0.05, 12);
    expect(s.meanLoss).toBeCloseTo((10 * 0.5 + 30 * 0.3) / 40, 12);
    expect(s.sites).toBe(3);
  });
});

describe('round summary', () => {
  it('counts accepted, late and rejected results and weights the training loss by examples', async () => {
    const { roundSummary } = await import('../../coordinator/summary.ts');
    const row = { round: 2, phase: 'evaluate', modelIn: 'i', modelOut: 'o', stateOut: null, config: {}, sampled: ['a', 'b', 'c', 'd'], evalSites: [], startedMs: 5, deadlineMs: 9, aggregatedMs: 4005, evalDeadlineMs: null, closedMs: null, summary: null } as const;
    const res = (siteId: string, status: 'accepted' | 'late' | 'rejected', numExamples: number, loss: number, fitSeconds: number) => ({ round: 2, siteId, kind: 'train' as const, status, numExamples, metrics: { loss, fitSeconds }, payloadSha: null, detail: '', receivedMs: 0 });
    const s = roundSummary({ ...row, sampled: [...row.sampled], evalSites: [] }, [res('a', 'accepted', 10, 1, 3), res('b', 'accepted', 30, 0.5, 3.2), res('c', 'late', 5, 9, 9), res('d', 'rejected', 5, 9, 9)], null, 42);
    // loss (10·1 + 30·0.5) / 40 = 0.625; phase 4005 − 5 ms = 4 s, slowest accepted fit 3.2 s, overhead (4 − 3.2) / 4 = 0.2
    expect(s.train).toMatchObject({ sites: ['a', 'b'], examples: 40, meanLoss: 0.625, siteLoss: { a: 1, b: 0.5 }, late: 1, rejected: 1, phaseSeconds: 4, slowestFitSeconds: 3.2 });
    expect(s.train.overhead).toBeCloseTo(0.2, 12);
    expect(s).toMatchObject({ round: 2, model: 'o', evaluation: null, startedMs: 5, closedMs: 42 });
  });
});
