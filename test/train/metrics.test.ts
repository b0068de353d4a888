import { describe, expect, it } from 'vitest';
import { accuracy, aucMannWhitney, aucStandardError, classifierAuc, dice, meanDice } from '../../train/metrics.ts';

/** Brute-force AUC: the fraction of (positive, negative) pairs ordered right, ties ½. */
function pairAuc(s: number[], y: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++) for (let j = 0; j < s.length; j++) {
    if (y[i] === 1 && y[j] === 0) {
      den++;
      num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return num / den;
}

describe('aucMannWhitney', () => {
  it('equals hand-computed values', () => {
    expect(aucMannWhitney([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12); // 3 of 4 pairs right
    expect(aucMannWhitney([1, 2, 3], [0, 1, 1])).toBe(1);
    expect(aucMannWhitney([3, 2, 1], [0, 1, 1])).toBe(0);
    // ties: scores [0.5, 0.5, 0.5, 0.9], labels [0, 1, 0, 1]: pairs (p,n): (0.5,0.5)½ ×2, (0.9,·)1 ×2 → 3/4
    expect(aucMannWhitney([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.75, 12);
    expect(aucMannWhitney([0.2, 0.2], [0, 1])).toBe(0.5);
  });

  it('agrees with brute-force pair counting on data with many ties', () => {
    const s = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];
    const y = [1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 1, 0];
    expect(aucMannWhitney(s, y)).toBeCloseTo(pairAuc(s, y), 12);
  });

  it('is NaN when one class is missing', () => {
    expect(aucMannWhitney([0.1, 0.2], [1, 1])).toBeNaN();
  });
});

describe('classifierAuc and accuracy', () => {
  it('use class 1 for binary tasks and one-vs-rest for more', () => {
    // binary probs rows [p0, p1]
    expect(classifierAuc([0.9, 0.1, 0.6, 0.4, 0.65, 0.35, 0.2, 0.8], [0, 0, 1, 1], 2)).toBeCloseTo(0.75, 12);
    // 3 classes, each perfectly separated by its own column → macro AUC 1
    const p = [0.8, 0.1, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.8, 0.7, 0.2, 0.1];
    expect(classifierAuc(p, [0, 1, 2, 0], 3)).toBe(1);
    expect(accuracy(p, [0, 1, 2, 1], 3)).toBe(0.75);
  });
});

describe('dice', () => {
  it('equals hand-computed values', () => {
    expect(dice([1, 1, 0, 0], [1, 0, 1, 0])).toBeCloseTo(0.5, 12); // 2·1 / (2 + 2)
    expect(dice([1, 1, 1, 0], [1, 1, 0, 0])).toBeCloseTo(0.8, 12); // 2·2 / (3 + 2)
    expect(dice([0, 0], [0, 0])).toBe(1);
    expect(dice([1, 0], [0, 1])).toBe(0);
  });

  it('averages per image after thresholding', () => {
    // image 1: pred [0.9, 0.2] → [1, 0] vs [1, 0] → 1; image 2: [0.6, 0.7] → [1, 1] vs [0, 1] → 2/3
    expect(meanDice([0.9, 0.2, 0.6, 0.7], [1, 0, 0, 1], 2)).toBeCloseTo((1 + 2 / 3) / 2, 12);
  });
  it('AUC standard error: Hanley & McNeil eq. 2, by hand', () => {
    // A = 0.9, 50/50: Q1 = 0.9/1.1, Q2 = 1.62/1.9; SE² = (0.09 + 49(Q1 − 0.81) + 49(Q2 − 0.81))/2500
    expect(aucStandardError(0.9, 50, 50)).toBeCloseTo(0.0321239, 6);
    // A = 0.5: Q1 = Q2 = 1/3; SE² = (0.25 + 98/12)/2500
    expect(aucStandardError(0.5, 50, 50)).toBeCloseTo(0.0580230, 6);
    // A = 0.8, 60 positives, 40 negatives: SE² = (0.16 + 59·(2/3 − 0.64) + 39·(1.28/1.8 − 0.64))/2400
    expect(aucStandardError(0.8, 60, 40)).toBeCloseTo(0.0433333, 6);
    expect(aucStandardError(0.8, 0, 40)).toBeNaN();
  });
});
