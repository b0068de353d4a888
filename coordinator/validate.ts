import type { NamedTensor } from '../core/tensors.ts';

/** The verdict on one update. */
export type Verdict = { ok: true; norm: number } | { ok: false; reason: string };

/**
 * Checks a site's weights before aggregation: the same tensor names and shapes as the
 * global model, every value finite, and ‖w − w_global‖₂ within `maxNorm` (if given).
 * Pure; the caller rejects and logs a failed update and the round goes on.
 */
export function validateUpdate(global: readonly NamedTensor[], update: readonly NamedTensor[], maxNorm?: number): Verdict {
  if (update.length !== global.length) return { ok: false, reason: `expected ${global.length} tensors, got ${update.length}` };
  let sq = 0;
  for (let i = 0; i < global.length; i++) {
    const g = global[i];
    const u = update[i];
    if (u.name !== g.name) return { ok: false, reason: `tensor ${i} is named '${u.name}', expected '${g.name}'` };
    if (u.shape.length !== g.shape.length || u.shape.some((d, k) => d !== g.shape[k])) return { ok: false, reason: `tensor ${g.name} has shape [${u.shape}], expected [${g.shape}]` };
    const t = squaredDistance(u.data, g.data);
    // a NaN or ±Inf in the update makes the sum non-finite (float32 squares cannot overflow float64)
    if (!Number.isFinite(t)) {
      const j = u.data.findIndex((v) => !Number.isFinite(v));
      if (j >= 0) return { ok: false, reason: `tensor ${g.name} holds a non-finite value (${u.data[j]}) at ${j}` };
    }
    sq += t;
  }
  const norm = Math.sqrt(sq);
  if (maxNorm !== undefined && norm > maxNorm) return { ok: false, reason: `update norm ${norm.toPrecision(4)} exceeds the bound ${maxNorm}` };
  return { ok: true, norm };
}

/** Σ (u − g)², two independent sums so the additions do not wait on each other. */
function squaredDistance(u: Float32Array, g: Float32Array): number {
  const n = u.length;
  let s0 = 0;
  let s1 = 0;
  let j = 0;
  for (; j + 2 <= n; j += 2) {
    const d0 = u[j] - g[j];
    const d1 = u[j + 1] - g[j + 1];
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  if (j < n) {
    const d = u[j] - g[j];
    s0 += d * d;
  }
  return s0 + s1;
}

/** Resolves a delta update against the global model: w = w_global + Δ (same names and shapes assumed checked). */
export function applyDelta(global: readonly NamedTensor[], delta: readonly NamedTensor[]): NamedTensor[] {
  return delta.map((d, i) => {
    const g = global[i];
    const out = new Float32Array(d.data.length);
    if (g && g.data.length === d.data.length) for (let j = 0; j < out.length; j++) out[j] = g.data[j] + d.data[j];
    else out.set(d.data);
    return { name: d.name, shape: [...d.shape], dtype: 'float32', data: out };
  });
}
