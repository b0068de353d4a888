import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/rng.ts';
import { softLabels } from '../../distill/soft-labels.ts';
import { linearTeacherOnnx } from './linear-teacher.ts';

const C = 2;
const S = 3;
const K = 3;
const rng = new Rng(11);
const randoms = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

/** The teacher's logits computed directly from NHWC pixels: Σ_{c,h,w} x[h,w,c]·W[c·S·S + h·S + w, k] + b[k]. */
function reference(x: Float32Array, n: number, w: Float32Array, b: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) {
    let z = b[k];
    for (let h = 0; h < S; h++) for (let v = 0; v < S; v++) for (let c = 0; c < C; c++) {
      z += x[i * S * S * C + (h * S + v) * C + c] * w[(c * S * S + h * S + v) * K + k];
    }
    out.push(z);
  }
  return out;
}

describe('softLabels', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'soft-'));
  const w = randoms(C * S * S * K);
  const b = randoms(K);
  const teacher = path.join(dir, 'teacher.onnx');
  writeFileSync(teacher, linearTeacherOnnx(C, S, w, b));
  const n = 11; // not a multiple of the batch size
  const set = { n, size: S, channels: C, x: randoms(n * S * S * C), hash: 'dataset-v1' };
  const cacheDir = path.join(dir, 'cache');

  it('equals the teacher logits computed independently, in batches (NHWC → NCHW)', async () => {
    const r = await softLabels(teacher, set, { cacheDir, batchSize: 4, preprocess: { size: S } });
    expect(r.numClasses).toBe(K);
    expect(r.cached).toBe(false);
    const want = reference(set.x, n, w, b);
    Array.from(r.logits).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('is read back from the cache the second time', async () => {
    const first = readdirSync(cacheDir);
    const r = await softLabels(teacher, set, { cacheDir, batchSize: 4, preprocess: { size: S } });
    expect(r.cached).toBe(true);
    expect(readdirSync(cacheDir)).toEqual(first);
    const want = reference(set.x, n, w, b);
    Array.from(r.logits).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
  });

  it('is recomputed when the teacher, the dataset or the preprocessing changes', async () => {
    const b2 = Float32Array.from(b, (v) => v + 1);
    writeFileSync(teacher, linearTeacherOnnx(C, S, w, b2));
    const r1 = await softLabels(teacher, set, { cacheDir, preprocess: { size: S } });
    expect(r1.cached).toBe(false);
    const want = reference(set.x, n, w, b2);
    Array.from(r1.logits).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));

    const set2 = { ...set, x: randoms(n * S * S * C), hash: 'dataset-v2' };
    const r2 = await softLabels(teacher, set2, { cacheDir, preprocess: { size: S } });
    expect(r2.cached).toBe(false);
    const want2 = reference(set2.x, n, w, b2);
    Array.from(r2.logits).forEach((v, i) => expect(v).toBeCloseTo(want2[i], 4));

    const r3 = await softLabels(teacher, set2, { cacheDir, preprocess: { size: S, normalize: 'zscore' } });
    expect(r3.cached).toBe(false);
    expect(new Set([r1.key, r2.key, r3.key]).size).toBe(3);
    expect((await softLabels(teacher, set2, { cacheDir, preprocess: { normalize: 'zscore', size: S } })).cached).toBe(true);
  });

  it('explains a teacher that does not fit the images in a user error', async () => {
    const wrong = { n: 2, size: S + 1, channels: C, x: randoms(2 * (S + 1) * (S + 1) * C), hash: 'other-size' };
    await expect(softLabels(teacher, wrong)).rejects.toThrow(/failed on 4x4x2 images/);
  });

  it('names a missing teacher in a user error', async () => {
    await expect(softLabels(path.join(dir, 'nope.onnx'), set)).rejects.toThrow(/cannot read teacher model .*nope\.onnx/);
  });
});
