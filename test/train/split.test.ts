import { describe, expect, it } from 'vitest';
import { pool, stratifiedSplit, subset } from '../../train/split.ts';
import type { ImageSet } from '../../train/types.ts';

/** n 1×1 images whose pixel is the row index, labels given. */
function rowsSet(labels: number[]): ImageSet {
  return { n: labels.length, size: 1, channels: 1, x: Float32Array.from(labels, (_, i) => i), labels: Int32Array.from(labels), masks: Float32Array.from(labels) };
}

describe('split and pool', () => {
  it('subset copies the rows asked for', () => {
    const s = subset(rowsSet([0, 1, 0, 1]), [3, 0]);
    expect(Array.from(s.x)).toEqual([3, 0]);
    expect(Array.from(s.labels)).toEqual([1, 0]);
    expect(Array.from(s.masks!)).toEqual([1, 0]);
  });

  it('stratifiedSplit takes the fraction from each class, disjointly, repeatably', () => {
    const set = rowsSet([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const { train, val } = stratifiedSplit(set, 0.2, 3);
    expect(Array.from(val.labels).filter((l) => l === 0)).toHaveLength(2); // round(10·0.2)
    expect(Array.from(val.labels).filter((l) => l === 1)).toHaveLength(1); // round(5·0.2)
    const all = [...Array.from(train.x), ...Array.from(val.x)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(Array.from(stratifiedSplit(set, 0.2, 3).val.x)).toEqual(Array.from(val.x));
  });

  it('pool concatenates rows and refuses mismatched sizes', () => {
    const p = pool([rowsSet([0, 1]), rowsSet([1])]);
    expect(Array.from(p.x)).toEqual([0, 1, 0]);
    expect(Array.from(p.labels)).toEqual([0, 1, 1]);
    expect(() => pool([rowsSet([0]), { ...rowsSet([0]), size: 2, x: new Float32Array(4) }])).toThrow(/pool/);
  });
});
