import { describe, expect, it } from 'vitest';
import type { NamedTensor } from '../../core/tensors.ts';
import { weightedMean, weightedSum } from '../../coordinator/strategies/aggregate.ts';
import { fedAvg, fedProx } from '../../coordinator/strategies/fedavg.ts';
import { fedAdam, fedYogi } from '../../coordinator/strategies/fedopt.ts';
import { makeStrategy } from '../../coordinator/strategies/index.ts';

const t = (name: string, values: number[], shape = [values.length]): NamedTensor => ({ name, shape, dtype: 'float32', data: Float32Array.from(values) });
const site = (siteId: string, numExamples: number, ...weights: NamedTensor[]) => ({ siteId, numExamples, weights });
const close = (got: Float32Array, want: number[], digits = 6): void => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, digits));
};

describe('weightedSum', () => {
  it('matches a hand sum for 1 to 16 arrays (every grouping remainder)', () => {
    // arrays[k] = [k+1, 10(k+1)], weights[k] = 1/(k+1): every term is [1, 10]
    for (let m = 1; m <= 16; m++) {
      const arrays = Array.from({ length: m }, (_, k) => Float32Array.from([k + 1, 10 * (k + 1)]));
      const weights = arrays.map((_, k) => 1 / (k + 1));
      close(weightedSum(arrays, weights), [m, 10 * m]);
    }
  });

  it('pairs each array with its own weight in every pass (10 → 5 + 5, 17 → 6 + 6 + 5)', () => {
    // arrays[k] = (k + 1)·[1, 2, 3], weights[k] = 2^-k: s·[1, 2, 3] with s = Σ_k (k+1)·2^-k, summed in float64
    for (const m of [10, 17]) {
      const arrays = Array.from({ length: m }, (_, k) => Float32Array.from([1, 2, 3], (v) => (k + 1) * v));
      const weights = arrays.map((_, k) => 2 ** -k);
      let s = 0;
      for (let k = 0; k < m; k++) s += (k + 1) * 2 ** -k;
      close(weightedSum(arrays, weights), [s, 2 * s, 3 * s], 5);
    }
  });

  it('an empty sum is zeros', () => {
    expect([...weightedSum([], [], Float32Array.from([7, 7]))]).toEqual([0, 0]);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => weightedSum([new Float32Array(2), new Float32Array(3)], [1, 1])).toThrow(/expected 2/);
  });
});

describe('FedAvg (McMahan et al. 2017)', () => {
  it('weights each site by its examples', () => {
    // (1·[1,2,3] + 3·[5,6,7]) / 4 = [4,5,6]; bias: (1·[0] + 3·[4]) / 4 = [3]
    const out = fedAvg().aggregateFit([], [site('a', 1, t('k', [1, 2, 3], [3, 1]), t('b', [0])), site('b', 3, t('k', [5, 6, 7], [3, 1]), t('b', [4]))], null);
    expect(out.state).toBeNull();
    expect(out.weights.map((w) => [w.name, w.shape])).toEqual([
      ['k', [3, 1]],
      ['b', [1]],
    ]);
    close(out.weights[0].data, [4, 5, 6]);
    close(out.weights[1].data, [3]);
  });

  it('with five sites of 1,1,2,2,4 examples', () => {
    // (1·1 + 1·2 + 2·3 + 2·4 + 4·5) / 10 = 37/10
    const sites = [1, 1, 2, 2, 4].map((n, k) => site(`s${k}`, n, t('w', [k + 1, -(k + 1)])));
    close(weightedMean(sites)[0].data, [3.7, -3.7]);
  });

  it('configureFit passes the round config through', () => {
    expect(fedAvg().configureFit({ round: 2, localEpochs: 3 })).toEqual({ round: 2, localEpochs: 3 });
  });
});

describe('FedProx (Li et al. 2020)', () => {
  it('sends mu to the sites and aggregates as FedAvg', () => {
    const s = fedProx(0.01);
    expect(s.configureFit({ round: 1, localEpochs: 3 })).toEqual({ round: 1, localEpochs: 3, proximalMu: 0.01 });
    const out = s.aggregateFit([], [site('a', 1, t('w', [0])), site('b', 1, t('w', [2]))], null);
    close(out.weights[0].data, [1]);
    expect(() => fedProx(-1)).toThrow(/mu/);
  });
});

describe('FedAdam and FedYogi (Reddi et al. 2021)', () => {
  // x = [0, 1]; every round both sites return [1, 1], so Δ = [1 − x0, 0].
  // η = 0.1, β1 = 0.9, β2 = 0.99, τ = 0.1; hand-computed (float64):
  //   Adam  round 1: m0 = 0.1, v0 = 0.99·0.01 + 0.01·1 = 0.0199, x0 = 0.1·0.1/(√0.0199 + 0.1) = 0.0414821816
  //         round 2: Δ0 = 0.9585178184, m0 = 0.1858517818, v0 = 0.0288885641, x0 = 0.1103247517
  //   Yogi  round 1: v0 = 0.01 − 0.01·1·sign(0.01 − 1) = 0.02, x0 = 0.01/(√0.02 + 0.1) = 0.0414213562
  //         round 2: m0 = 0.1858578644, v0 = 0.0291887302, x0 = 0.1100423115
  //   Element 1 never moves (Δ = 0): Adam's v decays to 0.99·0.01 = 0.0099, Yogi's stays 0.01.
  const params = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.1 };
  const results = [site('a', 5, t('w', [1, 1])), site('b', 7, t('w', [1, 1]))];

  it('FedAdam: two rounds with the state carried over', () => {
    const s = fedAdam(params);
    const r1 = s.aggregateFit([t('w', [0, 1])], results, null);
    close(r1.weights[0].data, [0.0414821816, 1]);
    expect(r1.state!.map((x) => x.name)).toEqual(['m/w', 'v/w']);
    close(r1.state![0].data, [0.1, 0]);
    close(r1.state![1].data, [0.0199, 0.0099]);
    const r2 = s.aggregateFit(r1.weights, results, r1.state);
    close(r2.weights[0].data, [0.1103247517, 1]);
    close(r2.state![0].data, [0.1858517818, 0]);
    close(r2.state![1].data, [0.0288885641, 0.0099 * 0.99]);
  });

  it('FedYogi: two rounds with the state carried over', () => {
    const s = fedYogi(params);
    const r1 = s.aggregateFit([t('w', [0, 1])], results, null);
    close(r1.weights[0].data, [0.0414213562, 1]);
    close(r1.state![1].data, [0.02, 0.01]);
    const r2 = s.aggregateFit(r1.weights, results, r1.state);
    close(r2.weights[0].data, [0.1100423115, 1]);
    close(r2.state![0].data, [0.1858578644, 0]);
    close(r2.state![1].data, [0.0291887302, 0.01]);
  });

  it('is pure: the inputs are left as they were', () => {
    const g = [t('w', [0, 1])];
    const r1 = fedAdam(params).aggregateFit(g, results, null);
    const stateBefore = Array.from(r1.state![0].data);
    fedAdam(params).aggregateFit(r1.weights, results, r1.state);
    expect(Array.from(g[0].data)).toEqual([0, 1]);
    expect(Array.from(r1.state![0].data)).toEqual(stateBefore);
  });
});

describe('makeStrategy', () => {
  it('builds each named strategy', () => {
    expect(makeStrategy({ name: 'fedavg' }).name).toBe('fedavg');
    expect(makeStrategy({ name: 'fedprox', mu: 0.1 }).configureFit({ round: 1, localEpochs: 1 }).proximalMu).toBe(0.1);
    expect(makeStrategy({ name: 'fedadam' }).name).toBe('fedadam');
    expect(makeStrategy({ name: 'fedyogi', eta: 0.1 }).name).toBe('fedyogi');
  });

  it("weighting 'sites' counts every site alike; 'examples' (the default) by its examples", () => {
    const results = [site('a', 1, t('k', [1, 2, 3])), site('b', 3, t('k', [5, 6, 7]))];
    // alike: ([1,2,3] + [5,6,7]) / 2 = [3,4,5]; by examples: (1·[1,2,3] + 3·[5,6,7]) / 4 = [4,5,6]
    close(makeStrategy({ name: 'fedavg', weighting: 'sites' }).aggregateFit([], results, null).weights[0].data, [3, 4, 5]);
    close(makeStrategy({ name: 'fedavg', weighting: 'examples' }).aggregateFit([], results, null).weights[0].data, [4, 5, 6]);
    close(makeStrategy({ name: 'fedavg' }).aggregateFit([], results, null).weights[0].data, [4, 5, 6]);
    const prox = makeStrategy({ name: 'fedprox', mu: 0.01, weighting: 'sites' });
    expect(prox.configureFit({ round: 1, localEpochs: 1 }).proximalMu).toBe(0.01);
    close(prox.aggregateFit([], results, null).weights[0].data, [3, 4, 5]);
    // FedAdam alike is FedAdam on the same results with equal example counts (state included)
    const global = [t('k', [0, 0, 0])];
    const alike = makeStrategy({ name: 'fedadam', weighting: 'sites' }).aggregateFit(global, results, null);
    const equal = fedAdam({}).aggregateFit(global, results.map((r) => ({ ...r, numExamples: 7 })), null);
    expect(Array.from(alike.weights[0].data)).toEqual(Array.from(equal.weights[0].data));
    expect(alike.state!.map((x) => Array.from(x.data))).toEqual(equal.state!.map((x) => Array.from(x.data)));
    expect(Array.from(alike.weights[0].data)).not.toEqual(Array.from(fedAdam({}).aggregateFit(global, results, null).weights[0].data));
  });
});
