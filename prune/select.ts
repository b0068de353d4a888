import type { ChannelGraph, ChannelGroup } from './graph.ts';
import { comparableScore, type ChannelScores, type Criterion } from './importance.ts';
import { masksFromUnits, unitsKept, type PruneMasks } from './masks.ts';

/** How many channels to prune and where. */
export interface SelectOptions {
  /** Fraction of channels to remove, in [0, 1). */
  ratio: number;
  /** `uniform`: every group loses `ratio` of its channels; `global`: the least important channels of the whole model go. */
  scope?: 'uniform' | 'global';
  /** Criterion the scores came from (sets how scores of different layers compare). */
  criterion: Criterion;
  /** Per-group minimum of kept channels (default 1). */
  minChannels?: number;
  /** Per-group minimum kept fraction (default 0.1). */
  minKeepFraction?: number;
  /**
   * Round kept channel counts to the nearest feasible multiple of this (8 for hardware-friendly
   * widths; default 1). A group with fewer channels than the multiple stays whole.
   */
  roundTo?: number;
  /** Masks of an earlier step: channels pruned there stay pruned (iterative pruning). */
  previous?: PruneMasks;
}

interface GroupPlan {
  group: ChannelGroup;
  /** Units free to prune, sorted by score ascending. */
  free: { unit: number; score: number }[];
  fixedKeep: number;
  fixedPrune: number;
  minKeep: number;
}

function unitScores(graph: ChannelGraph, scores: ChannelScores, criterion: Criterion): (number | undefined)[] {
  const s: (number | undefined)[] = graph.units.map(() => undefined);
  for (const [name, p] of graph.producers) {
    const v = scores[name];
    if (!v) continue;
    if (v.length !== p.units.length) throw new Error(`scores for '${name}' have ${v.length} channels, the layer has ${p.units.length}`);
    p.units.forEach((u, c) => (s[u] = (s[u] ?? 0) + comparableScore(criterion, v[c], p.fanIn)));
  }
  return s;
}

function plans(graph: ChannelGraph, scores: ChannelScores, opts: SelectOptions): GroupPlan[] {
  const s = unitScores(graph, scores, opts.criterion);
  const before = opts.previous ? unitsKept(graph, opts.previous) : undefined;
  return graph.groups.map((group) => {
    const c = group.units.length;
    const free = group.units.filter((u) => !graph.units[u].blocked && s[u] !== undefined && before?.[u] !== false);
    const fixedPrune = before ? group.units.filter((u) => !before[u]).length : 0;
    const minKeep = Math.min(c, Math.max(opts.minChannels ?? 1, Math.ceil((opts.minKeepFraction ?? 0.1) * c)));
    return {
      group,
      free: free.map((unit) => ({ unit, score: s[unit]! })).sort((a, b) => a.score - b.score || a.unit - b.unit),
      fixedKeep: c - free.length - fixedPrune,
      fixedPrune,
      minKeep,
    };
  });
}

/** The kept count nearest to `keep` that is a multiple of `m` and feasible for the plan. */
function roundKeep(p: GroupPlan, keep: number, m: number): number {
  const lo = Math.max(p.fixedKeep, p.minKeep);
  const hi = p.fixedKeep + p.free.length;
  let k = Math.min(hi, Math.max(lo, keep));
  if (m > 1) {
    const candidates = [Math.floor(k / m) * m, Math.ceil(k / m) * m].filter((x) => x >= lo && x <= hi && x > 0);
    if (candidates.length) k = candidates.sort((a, b) => Math.abs(a - keep) - Math.abs(b - keep) || b - a)[0];
    else k = hi;
  }
  return k;
}

/** Uniform scope: each group keeps C − round(ratio·C) channels, within its limits. */
function uniformKeeps(ps: GroupPlan[], opts: SelectOptions): number[] {
  return ps.map((p) => {
    const c = p.group.units.length;
    return roundKeep(p, c - Math.round(opts.ratio * c), opts.roundTo ?? 1);
  });
}

/** Global scope: remove the lowest-scored channels of the model until `ratio` of its prunable channels are gone. */
function globalKeeps(ps: GroupPlan[], opts: SelectOptions): number[] {
  const total = ps.reduce((a, p) => a + p.free.length + p.fixedPrune, 0);
  let budget = Math.round(opts.ratio * total) - ps.reduce((a, p) => a + p.fixedPrune, 0);
  const removed = ps.map(() => 0);
  const all = ps.flatMap((p, g) => p.free.map((f) => ({ g, score: f.score })));
  all.sort((a, b) => a.score - b.score);
  for (const { g } of all) {
    if (budget <= 0) break;
    const p = ps[g];
    if (p.fixedKeep + p.free.length - removed[g] <= Math.max(p.minKeep, p.fixedKeep)) continue;
    removed[g]++;
    budget--;
  }
  return ps.map((p, g) => roundKeep(p, p.fixedKeep + p.free.length - removed[g], opts.roundTo ?? 1));
}

/**
 * Chooses which channels to keep from importance scores and returns masks (see PruneMasks):
 * in each group the `keep − fixed` highest-scored free channels stay, with blocked channels
 * always kept and channels pruned by `previous` always pruned.
 */
export function selectMasks(graph: ChannelGraph, scores: ChannelScores, opts: SelectOptions): PruneMasks {
  if (!(opts.ratio >= 0 && opts.ratio < 1)) throw new Error(`pruning ratio must be in [0, 1), got ${opts.ratio}`);
  const ps = plans(graph, scores, opts);
  const keeps = opts.scope === 'global' ? globalKeeps(ps, opts) : uniformKeeps(ps, opts);
  const kept = graph.units.map(() => true);
  const before = opts.previous ? unitsKept(graph, opts.previous) : undefined;
  if (before) before.forEach((k, u) => (kept[u] = k));
  ps.forEach((p, g) => {
    const drop = p.fixedKeep + p.free.length - keeps[g];
    p.free.slice(0, Math.max(0, drop)).forEach((f) => (kept[f.unit] = false));
  });
  return masksFromUnits(graph, kept);
}
