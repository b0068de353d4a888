import { describe, expect, it } from 'vitest';
import type { NamedTensor } from '../../core/tensors.ts';
import { applyDelta, validateUpdate } from '../../coordinator/validate.ts';

const t = (name: string, values: number[]): NamedTensor => ({ name, shape: [values.length], dtype: 'float32', data: Float32Array.from(values) });

describe('validateUpdate: norm and finiteness in one pass', () => {
  const global = [t('k', [1, 1, 1, 1, 1]), t('b', [0, 0, 0])];

  it('norm over odd-length tensors, every element counted (the last one too)', () => {
    // differences: k → [1, 2, 0, 0, 2] (sum of squares 9), b → [0, 0, 4] (16): ‖Δ‖ = 5
    expect(validateUpdate(global, [t('k', [2, 3, 1, 1, 3]), t('b', [0, 0, 4])], 5)).toEqual({ ok: true, norm: 5 });
    expect(validateUpdate(global, [t('k', [2, 3, 1, 1, 3]), t('b', [0, 0, 4])], 4.999)).toMatchObject({ ok: false, reason: expect.stringMatching(/norm 5\.000 exceeds/) });
  });

  it('names the first non-finite value and where it is, at an odd index or in the tail', () => {
    expect(validateUpdate(global, [t('k', [1, NaN, 1, 1, 1]), t('b', [0, 0, 0])])).toEqual({ ok: false, reason: 'tensor k holds a non-finite value (NaN) at 1' });
    expect(validateUpdate(global, [t('k', [1, 1, 1, 1, -Infinity]), t('b', [0, 0, 0])])).toEqual({ ok: false, reason: 'tensor k holds a non-finite value (-Infinity) at 4' });
    expect(validateUpdate(global, [t('k', [1, 1, 1, 1, 1]), t('b', [0, Infinity, NaN])])).toEqual({ ok: false, reason: 'tensor b holds a non-finite value (Infinity) at 1' });
  });

  it('a large but finite update is finite (float32 squares do not overflow)', () => {
    const big = 3e38;
    const v = validateUpdate([t('w', [0, 0])], [t('w', [big, -big])]);
    expect(v.ok).toBe(true);
    expect((v as { norm: number }).norm).toBeCloseTo(Math.fround(big) * Math.SQRT2, -30);
  });

  it('a delta resolves against the global model', () => {
    expect([...applyDelta(global, [t('k', [1, 2, 3, 4, 5]), t('b', [0.5, 0, -1])])[0].data]).toEqual([2, 3, 4, 5, 6]);
  });
});
