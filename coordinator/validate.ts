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
    const a = u.data;
    const b = g.data;
    for (let j = 0; j < a.length; j++) {
      const v = a[j];
      if (!Number.isFinite(v)) return { ok: false, reason: `tensor ${g.name} holds a non-finite value (${v}) at ${j}` };
      const d = v - b[j];
      sq += d * d;
    }
  }
  const norm = Math.sqrt(sq);
  if (maxNorm !== undefined && norm > maxNorm) return { ok: false, reason: `update norm ${norm.toPrecision(4)} exceeds the bound ${maxNorm}` };
  return { ok: true, norm };
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
