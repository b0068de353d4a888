import { describe, expect, it } from 'vitest';
import { loadSimulateConfig } from '../../cli/simulate/config.ts';
import { teacherFile } from '../../cli/simulate/steps.ts';
import { checksText, roundSeries, roundsCsv, summarize, summaryTable } from '../../cli/simulate/report.ts';
import { spreadDistribution, spreadFromNoise } from '../../cli/simulate/uncertainty.ts';
import { compare, type Comparison } from '../../cli/simulate/baselines.ts';
import type { RoundSummary } from '../../coordinator/rounds.ts';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './fixtures.ts';

const comparison: Comparison = {
  sites: ['x', 'y'],
  federated: { x: 0.8, y: 0.82 },
  local: { x: 0.7, y: 0.85 },
  centralised: { x: 0.81, y: 0.83 },
  teacher: { x: 0.9, y: 0.88 },
  params: { federated: 1000, local: [1000, 1000], centralised: 1000, teacher: 20000 },
};

describe('simulate report', () => {
  it('summary: means, spreads and the quality checks, by hand', () => {
    const s = summarize(comparison) as { mean: Record<string, number>; spread: Record<string, number>; checks: Record<string, unknown> };
    expect(s.mean.federated).toBeCloseTo(0.81, 12);
    expect(s.spread.federated).toBeCloseTo(0.02, 12);
    expect(s.spread.local).toBeCloseTo(0.15, 12);
    expect(s.checks.federatedAtLeastLocalAtEverySite).toBe(false); // y: 0.82 < 0.85
    expect(s.checks.withinOfCentralised).toMatchObject({ met: true });
    expect((s.checks.withinOfCentralised as { gap: number }).gap).toBeCloseTo(0.01, 12);
    expect(s.checks.spread).toMatchObject({ met: true });
    const table = summaryTable(comparison);
    expect(table).toContain('| x | 0.8000 | 0.7000 | 0.8100 | 0.9000 |');
    expect(table).toContain('| **mean** | 0.8100 | 0.7750 | 0.8200 | 0.8900 |');
    expect(table).toContain('| parameters | 1000 | 1000 | 1000 | 20000 |');
    expect(table.split('\n')[0]).toBe('| site | federated | site alone | centralised | teacher |');
  });

  it('a pruning run: the unpruned centralised column, its gap, and each column’s own parameters', () => {
    const pruned: Comparison = {
      ...comparison,
      centralisedUnpruned: { x: 0.86, y: 0.9 },
      params: { federated: 400, local: [380, 410], centralised: 400, centralisedUnpruned: 1000, teacher: 20000 },
    };
    const s = summarize(pruned) as { mean: Record<string, number>; checks: Record<string, unknown> };
    expect(s.mean.centralisedUnpruned).toBeCloseTo(0.88, 12);
    expect(s.checks.gapToUnprunedCentralised as number).toBeCloseTo(0.07, 12); // 0.88 − 0.81
    expect((s.checks.withinOfCentralised as { gap: number }).gap).toBeCloseTo(0.01, 12); // still against the pruned one
    const table = summaryTable(pruned);
    expect(table.split('\n')[0]).toBe('| site | federated | site alone | centralised | centralised, unpruned | teacher |');
    expect(table).toContain('| y | 0.8200 | 0.8500 | 0.8300 | 0.9000 | 0.8800 |');
    expect(table).toContain('| parameters | 400 | 380–410 | 400 | 1000 | 20000 |');
  });

  it('a pre-trained start: its column before the teacher, and what federating gained over it', () => {
    const started: Comparison = { ...comparison, pretrained: { x: 0.75, y: 0.79 }, params: { ...comparison.params, pretrained: 1000 } };
    const s = summarize(started) as { mean: Record<string, number>; checks: Record<string, unknown> };
    expect(s.mean.pretrained).toBeCloseTo(0.77, 12);
    expect(s.checks.gainOverPretrained as number).toBeCloseTo(0.04, 12); // 0.81 − 0.77
    const table = summaryTable(started);
    expect(table.split('\n')[0]).toBe('| site | federated | site alone | centralised | pre-trained (public data) | teacher |');
    expect(table).toContain('| x | 0.8000 | 0.7000 | 0.8100 | 0.7500 | 0.9000 |');
    expect((summarize(comparison).checks as Record<string, unknown>).gainOverPretrained).toBeUndefined();
  });

  it('the checks in words: each margin by hand, and the teacher named where it scores below the pre-trained start', () => {
    // y: 0.82 − 0.85 = −0.03 is the smallest margin (x: +0.10); centralised mean 0.82 is 0.01 above the federated 0.81
    const text = checksText(comparison);
    expect(text).toContain('Federated at least each site alone: **no** (smallest margin −0.0300, y)');
    expect(text).toContain('within 0.02 of centralised: **yes** (mean 0.0100 below)');
    expect(text).toContain('spread at most 0.03: **yes** (0.0200).');
    expect(text).not.toContain('pre-trained');
    expect(summaryTable(comparison)).toContain(text);
    // the federated student above centralised and above every site alone; the teacher (0.90 / 0.88) below the start at y (0.89) only
    const better: Comparison = { ...comparison, federated: { x: 0.85, y: 0.8 }, local: { x: 0.84, y: 0.7 }, centralised: { x: 0.81, y: 0.79 }, pretrained: { x: 0.8, y: 0.89 } };
    const t = checksText(better);
    expect(t).toContain('**yes** (smallest margin +0.0100, x)');
    expect(t).toContain('(mean 0.0250 above)'); // 0.825 − 0.80
    expect(t).toContain('spread at most 0.03: **no** (0.0500).');
    expect(t).toContain('Federated minus pre-trained, mean: −0.0200.'); // 0.825 − 0.845
    expect(t).toContain('The teacher scores below the pre-trained student at y:');
    const both = checksText({ ...better, pretrained: { x: 0.95, y: 0.89 } });
    expect(both).toContain('at x and y:');
  });

  it('rounds CSV: a row per site and round, then the mean', () => {
    const round = {
      round: 1,
      train: { meanLoss: 0.5, siteLoss: { x: 0.4, y: 0.6 } },
      evaluation: { auc: { x: 0.7, y: 0.9 }, loss: { x: 0.3, y: 0.2 }, meanAuc: 0.8, meanLoss: 0.25 },
    } as unknown as RoundSummary;
    expect(roundsCsv([round]).trim().split('\n')).toEqual(['round,site,auc,eval_loss,train_loss', '1,x,0.7,0.3,0.4', '1,y,0.9,0.2,0.6', '1,mean,0.8,0.25,0.5']);
  });

  it('plots: rounds count from 1 and a round without a figure is left out of its series', () => {
    expect(roundSeries({ a: [0, 1], b: [1, null, 0.5] })).toEqual([
      { name: 'a', points: [[1, 0], [2, 1]] },
      { name: 'b', points: [[1, 1], [3, 0.5]] },
    ]);
  });

  it('config: presets under the file, and the bad field named', () => {
    const dir = tempDir('simcfg');
    const file = path.join(dir, 'sim.yaml');
    writeFileSync(file, 'federated:\n  rounds: 5\n');
    const c = loadSimulateConfig(file, true);
    expect(c.federated.rounds).toBe(5);
    expect(c.federated.localEpochs).toBe(3); // from --quick
    expect(c.baselines.epochs).toBe(15); // rounds × local epochs: each student sees its images as often
    writeFileSync(file, 'federated:\n  rounds: 5\nbaselines:\n  epochs: 7\n');
    expect(loadSimulateConfig(file, true).baselines.epochs).toBe(7);
    expect(c.out).toBe(path.join(dir, 'reports', 'simulate'));
    writeFileSync(file, 'federated:\n  rounds: 0\n');
    expect(() => loadSimulateConfig(file, false)).toThrow(/federated\.rounds/);
  });

  it('the teacher’s cache file follows the work folder: a copied work folder keeps its teacher, another seed does not', () => {
    const at = (work: string, seed = 1) => {
      const dir = tempDir('simwork');
      const file = path.join(dir, 'sim.yaml');
      writeFileSync(file, `work: ${work}\nseed: ${seed}\n`);
      const c = loadSimulateConfig(file, false);
      return { c, sites: ['site-a', 'site-b'].map((s) => path.join(c.work, 'federation-x', s)) };
    };
    const a = at('/tmp/one');
    const b = at('/tmp/two/deeper');
    const fa = teacherFile(a.c, a.sites);
    const fb = teacherFile(b.c, b.sites);
    expect(path.dirname(fa)).toBe('/tmp/one');
    expect(path.basename(fa)).toBe(path.basename(fb));
    expect(path.basename(fa)).toMatch(/^teacher-[0-9a-f]{10}\.onnx$/);
    const s2 = at('/tmp/one', 2);
    expect(path.basename(teacherFile(s2.c, s2.sites))).not.toBe(path.basename(fa));
  });
  it('sampling noise: standard errors per site and the spread noise alone makes', () => {
    // two sites with σ = 0.01: |X1 − X2| is half-normal with scale σ√2, mean 2σ/√π = 0.011284,
    // and P(|X1 − X2| > 0.03) = 2(1 − Φ(0.03/(0.01·√2))) = 0.03389
    const n = spreadFromNoise([0.01, 0.01], 0.03);
    expect(n.mean).toBeCloseTo(0.011284, 3);
    expect(Math.abs(n.pAbove - 0.03389)).toBeLessThan(0.005);
    expect(spreadFromNoise([0, 0, 0], 0.03)).toEqual({ mean: 0, pAbove: 0 });
    // AUCs 0.90 and 0.95, σ = 0.01 each: the spread is 0.05 + N(0, 0.01²·2) (negative with
    // probability Φ(−3.5), negligible): 95% within 0.05 ± 1.96·0.014142, over 0.03 with Φ(√2) = 0.9214
    const d = spreadDistribution([0.9, 0.95], [0.01, 0.01], 0.03);
    expect(d.mean).toBeCloseTo(0.05, 3);
    expect(d.interval[0]).toBeCloseTo(0.02228, 3);
    expect(d.interval[1]).toBeCloseTo(0.07772, 3);
    expect(Math.abs(d.pAbove - 0.9214)).toBeLessThan(0.005);
    const withCounts: Comparison = { ...comparison, testCounts: { x: { pos: 60, neg: 40 }, y: { pos: 60, neg: 40 } } };
    const u = (summarize(withCounts) as { uncertainty: { standardErrors: Record<string, number> } }).uncertainty;
    expect(u.standardErrors.x).toBeCloseTo(0.0433333, 6); // Hanley & McNeil at 0.8, by hand (metrics test)
    expect(summaryTable(withCounts)).toContain('(Hanley & McNeil standard errors): x 0.0433, y 0.0412.');
    expect(summaryTable(withCounts)).toMatch(/a fresh test split of the same size would measure the federated spread between 0\.\d{4} and 0\.\d{4} \(95%\), over 0\.03 in \d+% of them/);
    expect(summaryTable(comparison)).not.toContain('Sampling noise');
  });

  it("puts the federated evaluation beside the baselines' results, each in its own column", () => {
    const fed = { sites: ['x', 'y'], federated: { x: 0.9, y: 0.8 }, testCounts: { x: { pos: 5, neg: 5 }, y: { pos: 4, neg: 6 } }, pretrained: { x: 0.7, y: 0.6 }, params: { federated: 100, pretrained: 200 } };
    const local = { kind: 'local' as const, aucs: { x: 0.85, y: 0.75 }, params: [100, 100], teacher: { x: 0.95, y: 0.9 }, teacherParams: 999 };
    const central = { kind: 'centralised' as const, aucs: { x: 0.91, y: 0.82 }, params: [100] };
    const c = compare(fed, [central, local]);
    expect(c).toEqual({
      sites: ['x', 'y'],
      federated: fed.federated,
      testCounts: fed.testCounts,
      local: local.aucs,
      centralised: central.aucs,
      teacher: local.teacher,
      pretrained: fed.pretrained,
      params: { federated: 100, local: [100, 100], centralised: 100, teacher: 999, pretrained: 200 },
    });
    expect(() => compare(fed, [local])).toThrow('the centralised baseline is missing');
  });
});
