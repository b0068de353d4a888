import { describe, expect, it } from 'vitest';
import { addToHistogram, emptyHistogram, emptyRange, mergeHistograms, updateRange } from '../../quantize/calibration/histogram.ts';
import { entropyRange, klDivergence, minMaxRange, percentileRange, quantizedCandidate } from '../../quantize/calibration/methods.ts';
import { Rng } from '../../core/rng.ts';

describe('activation histograms', () => {
  it('bins |x| over fixed edges, clamps beyond the top, tracks min and max', () => {
    const h = emptyHistogram(4, 4); // bins [0,1) [1,2) [2,3) [3,4]
    addToHistogram(h, [0.5, -0.5, 1.5, -3.2, 9, 2.0]);
    expect(Array.from(h.counts)).toEqual([2, 1, 1, 2]);
    expect([h.min, h.max]).toEqual([-3.2, 9]);
  });

  it('merging two histograms equals histogramming the union (the federated merge)', () => {
    const rng = new Rng(1);
    const a = Array.from({ length: 500 }, () => rng.normal() * 2);
    const b = Array.from({ length: 300 }, () => rng.normal() * 3);
    const ha = emptyHistogram(10, 64);
    const hb = emptyHistogram(10, 64);
    const hu = emptyHistogram(10, 64);
    addToHistogram(ha, a);
    addToHistogram(hb, b);
    addToHistogram(hu, [...a, ...b]);
    const m = mergeHistograms(ha, hb);
    expect(Array.from(m.counts)).toEqual(Array.from(hu.counts));
    expect([m.min, m.max]).toEqual([hu.min, hu.max]);
    expect(() => mergeHistograms(ha, emptyHistogram(5, 64))).toThrow(/different edges/);
  });

  it('tracks ranges', () => {
    const r = emptyRange();
    updateRange(r, [3, -1, 2]);
    updateRange(r, [7]);
    expect(minMaxRange(r)).toEqual({ min: -1, max: 7 });
  });
});

describe('calibration methods', () => {
  it('percentile takes the upper edge of the bin where the cumulative share reaches p', () => {
    const h = emptyHistogram(10, 10);
    // 990 values in [0,1), 9 in [5,6), 1 at 9.5 → 99% reached in bin 0, 99.9% in bin 5, 100% in bin 9
    addToHistogram(h, [...new Array(990).fill(0.5), ...new Array(9).fill(5.5), 9.5]);
    expect(percentileRange(h, 99)).toEqual({ min: 0.5, max: 1 });
    expect(percentileRange(h, 99.9)).toEqual({ min: 0.5, max: 6 });
    expect(percentileRange(h, 100)).toEqual({ min: 0.5, max: 9.5 });
  });

  it('percentile clips negative values symmetrically', () => {
    const h = emptyHistogram(10, 10);
    addToHistogram(h, [...new Array(999).fill(-0.5), -9.5]);
    expect(percentileRange(h, 99.9)).toEqual({ min: -1, max: -0.5 });
  });

  it('KL divergence matches a hand computation', () => {
    // P = [1/2, 1/2], Q = [1/4, 3/4]: 0.5 ln 2 + 0.5 ln(2/3)
    expect(klDivergence([1, 1], [1, 3])).toBeCloseTo(0.5 * Math.log(2) + 0.5 * Math.log(2 / 3), 12);
    expect(klDivergence([2, 2], [5, 5])).toBe(0);
  });

  it('the quantised candidate spreads each level’s mass over its non-empty bins', () => {
    // 6 bins into 2 levels: [4, 0, 2 | 3, 3, 0] → [3, 0, 3 | 3, 3, 0]
    expect(Array.from(quantizedCandidate([4, 0, 2, 3, 3, 0], 6, 2))).toEqual([3, 0, 3, 3, 3, 0]);
  });

  it('entropy ignores a far outlier that minmax keeps, and keeps a dense range whole', () => {
    const rng = new Rng(3);
    const values = Array.from({ length: 20000 }, () => Math.abs(rng.normal()));
    const h = emptyHistogram(40, 512);
    addToHistogram(h, [...values, 40]);
    const t = entropyRange(h, 64).max;
    expect(t).toBeGreaterThan(2.5); // covers the bulk of a half-normal
    expect(t).toBeLessThan(8); // far below the outlier at 40
    const u = emptyHistogram(1, 512);
    addToHistogram(u, Array.from({ length: 20000 }, () => rng.next()));
    expect(entropyRange(u, 64).max).toBeGreaterThan(0.95); // a uniform [0,1) keeps nearly all of its range
  });
});

describe('entropy search', () => {
  it('agrees with the reference KL built from explicit P and Q arrays', () => {
    const rng = new Rng(5);
    const h = emptyHistogram(6, 300);
    addToHistogram(h, Array.from({ length: 5000 }, () => Math.abs(rng.normal()) * (rng.next() < 0.02 ? 3 : 1)));
    const levels = 32;
    let best = 0;
    let bestKl = Infinity;
    for (let i = levels; i <= 300; i++) {
      const p = Array.from(h.counts.subarray(0, i));
      p[i - 1] += h.counts.subarray(i).reduce((a, b) => a + b, 0);
      const kl = klDivergence(p, quantizedCandidate(h.counts.subarray(0, i), i, levels));
      if (kl < bestKl) [best, bestKl] = [i, kl];
    }
    expect(entropyRange(h, levels).max).toBeCloseTo(Math.min(h.max, (best * 6) / 300), 10);
  });
});
