import type { ChannelGraph } from './graph.ts';

/**
 * Pruning masks as plain data: `{producerLayerName → keep flag per output channel}`.
 * A producer missing from the record keeps all its channels. JSON-serialisable, so a
 * coordinator can send it with a task; tied producers (across residual adds) carry equal masks.
 */
export type PruneMasks = Record<string, boolean[]>;

/**
 * Checks masks against a model's channel graph and returns whether each unit is kept:
 * names and lengths must match, tied channels must agree, blocked channels must be kept.
 * Throws an Error naming the first problem (masks from the wire are checked here).
 */
export function unitsKept(graph: ChannelGraph, masks: PruneMasks): boolean[] {
  const kept: (boolean | undefined)[] = graph.units.map(() => undefined);
  for (const [name, keep] of Object.entries(masks)) {
    const p = graph.producers.get(name);
    if (!p) throw new Error(`mask for '${name}', which is not a prunable producer layer of this model`);
    if (keep.length !== p.units.length) throw new Error(`mask for '${name}' has ${keep.length} channels, the layer has ${p.units.length}`);
    keep.forEach((k, c) => {
      const u = p.units[c];
      if (kept[u] !== undefined && kept[u] !== k) throw new Error(`mask for '${name}' channel ${c} disagrees with a channel tied to it`);
      if (!k && graph.units[u].blocked) throw new Error(`mask for '${name}' prunes channel ${c}, which cannot be pruned`);
      kept[u] = k;
    });
  }
  return kept.map((k) => k ?? true);
}

/** Masks from unit keep flags: every producer gets its channels' flags. */
export function masksFromUnits(graph: ChannelGraph, kept: readonly boolean[]): PruneMasks {
  const masks: PruneMasks = {};
  for (const [name, p] of graph.producers) masks[name] = p.units.map((u) => kept[u]);
  return masks;
}

/** Keep flags of a list of channel nodes (a tensor's channels) under unit keep flags. */
export function nodesKept(graph: ChannelGraph, kept: readonly boolean[], nodes: readonly number[]): boolean[] {
  return nodes.map((n) => kept[graph.nodeUnit[n]]);
}

/** Parses masks from JSON text or a value, checking the shape `{string → boolean[]}`. */
export function parseMasks(json: string | unknown): PruneMasks {
  const v: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('masks must be an object {layerName: boolean[]}');
  for (const [k, m] of Object.entries(v)) {
    if (!Array.isArray(m) || m.some((x) => typeof x !== 'boolean')) throw new Error(`mask for '${k}' must be an array of booleans`);
  }
  return v as PruneMasks;
}

/** Channels kept and total, over all producers named in the masks. */
export function maskCounts(masks: PruneMasks): { kept: number; total: number } {
  let kept = 0;
  let total = 0;
  for (const m of Object.values(masks)) {
    total += m.length;
    kept += m.filter(Boolean).length;
  }
  return { kept, total };
}
