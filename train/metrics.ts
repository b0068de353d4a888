/**
 * Validation metrics as pure functions over plain arrays, so they are testable against
 * hand-computed values and independent of tfjs.
 */

/**
 * Area under the ROC curve by the Mann–Whitney U statistic (Hanley & McNeil 1982, "The
 * meaning and use of the area under a ROC curve", Radiology 143:29–36):
 * AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋), where R₊ is the rank sum of the positives and tied
 * scores share their average rank (a tie counts one half). NaN when a class is absent.
 */
export function aucMannWhitney(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (positive.length !== n) throw new Error(`AUC: ${n} scores but ${positive.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) {
      if (positive[order[k]]) {
        rankSumPos += avgRank;
        nPos++;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Standard error of an AUC estimated on nPos positives and nNeg negatives (Hanley & McNeil
 * 1982, eq. 2): SE² = (A(1−A) + (n₊−1)(Q₁−A²) + (n₋−1)(Q₂−A²)) / (n₊n₋), with Q₁ = A/(2−A)
 * and Q₂ = 2A²/(1+A). NaN when a class is absent.
 */
export function aucStandardError(auc: number, nPos: number, nNeg: number): number {
  if (nPos <= 0 || nNeg <= 0) return NaN;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const v = (auc * (1 - auc) + (nPos - 1) * (q1 - auc * auc) + (nNeg - 1) * (q2 - auc * auc)) / (nPos * nNeg);
  return Math.sqrt(Math.max(0, v));
}

/**
 * AUC of a classifier from its class probabilities `probs` (N × K, row-major): for two classes
 * the AUC of class 1; for more, the macro average of one-vs-rest AUCs over classes present.
 */
export function classifierAuc(probs: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = labels.length;
  const column = (c: number): Float64Array => Float64Array.from({ length: n }, (_, i) => probs[i * numClasses + c]);
  const isClass = (c: number): boolean[] => Array.from({ length: n }, (_, i) => labels[i] === c);
  if (numClasses === 2) return aucMannWhitney(column(1), isClass(1));
  const aucs = Array.from({ length: numClasses }, (_, c) => aucMannWhitney(column(c), isClass(c))).filter((a) => !Number.isNaN(a));
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : NaN;
}

/** Fraction of rows whose largest score (first one on a tie) is at the label. */
export function accuracy(scores: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = labels.length;
  if (n === 0) return NaN;
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (scores[i * numClasses + c] > scores[i * numClasses + best]) best = c;
    if (best === labels[i]) right++;
  }
  return right / n;
}

/**
 * Dice coefficient 2|P∩G| / (|P| + |G|) of two binary masks (non-zero = foreground;
 * Dice 1945, "Measures of the amount of ecologic association between species").
 * Two empty masks agree perfectly: 1.
 */
export function dice(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  if (pred.length !== target.length) throw new Error(`Dice: masks of ${pred.length} and ${target.length} pixels`);
  let inter = 0;
  let p = 0;
  let g = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i] !== 0;
    const b = target[i] !== 0;
    if (a) p++;
    if (b) g++;
    if (a && b) inter++;
  }
  return p + g === 0 ? 1 : (2 * inter) / (p + g);
}

/** Mean per-image Dice of N masks of `pixels` each, stored back to back; `threshold` binarises `pred` (pred > threshold). */
export function meanDice(pred: ArrayLike<number>, target: ArrayLike<number>, pixels: number, threshold = 0.5): number {
  const n = Math.floor(target.length / pixels);
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Array.from({ length: pixels }, (_, j) => (pred[i * pixels + j] > threshold ? 1 : 0));
    sum += dice(p, Array.prototype.slice.call(target, i * pixels, (i + 1) * pixels) as number[]);
  }
  return sum / n;
}
