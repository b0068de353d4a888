import type * as tf from '@tensorflow/tfjs';
import type { ChannelGraph } from './graph.ts';
import { producerSpec, weightAxes, weightRole } from './layer-kinds.ts';

/** Channel importance criteria: filter L1 norm, filter L2 norm, |BN γ|. */
export const CRITERIA = ['l1', 'l2', 'bn'] as const;
/** One of CRITERIA. */
export type Criterion = (typeof CRITERIA)[number];

/**
 * Importance of each output channel of each producer layer: `{layerName → score per channel}`.
 * Plain data, JSON-serialisable, so sites can report it and a coordinator can sum it.
 * Under `bn`, producers whose channels meet no BatchNormalization are absent.
 */
export type ChannelScores = Record<string, number[]>;

/**
 * Lp norm of every slice of `data` (shape `shape`) along `axis`: out[c] = (Σ |x[..c..]|^p)^(1/p),
 * for p = 1 or 2.
 */
export function sliceNorms(data: Float32Array, shape: readonly number[], axis: number, p: 1 | 2): number[] {
  const n = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const acc = new Float64Array(n);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % n;
    const v = data[i];
    acc[c] += p === 1 ? Math.abs(v) : v * v;
  }
  return Array.from(acc, (s) => (p === 1 ? s : Math.sqrt(s)));
}

/** Values of a layer's weight with the given role, or undefined if the layer lacks it. */
function weightOf(layer: tf.layers.Layer, role: string): { data: Float32Array; shape: number[] } | undefined {
  const i = layer.weights.findIndex((w) => weightRole(w.originalName) === role);
  if (i < 0) return undefined;
  const t = layer.weights[i].read();
  return { data: t.dataSync() as Float32Array, shape: t.shape };
}

/** Filter norms (Li et al. 2017, "Pruning Filters for Efficient ConvNets", ICLR): ‖W[..., c]‖_p per producer. */
function filterNorms(model: tf.LayersModel, graph: ChannelGraph, p: 1 | 2): ChannelScores {
  const scores: ChannelScores = {};
  for (const name of graph.producers.keys()) {
    const layer = model.getLayer(name);
    const role = producerSpec(layer).weight;
    const w = weightOf(layer, role);
    if (!w) continue;
    const axis = weightAxes(layer, `${name}/${role}`).out!;
    scores[name] = sliceNorms(w.data, w.shape, axis, p);
  }
  return scores;
}

/**
 * BN scaling factors (Liu et al. 2017, "Learning Efficient Convolutional Networks through Network
 * Slimming", ICCV): |γ| of the first BatchNormalization each producer channel passes through.
 */
function bnGammas(model: tf.LayersModel, graph: ChannelGraph): ChannelScores {
  const owner = new Map<number, { layer: string; channel: number }>();
  for (const l of graph.layers) if (l.kind === 'producer') l.output.forEach((n, c) => owner.set(n, { layer: l.name, channel: c }));
  const partial = new Map<string, (number | undefined)[]>();
  for (const l of graph.layers) {
    if (l.className !== 'BatchNormalization') continue;
    const gamma = weightOf(model.getLayer(l.name), 'gamma');
    if (!gamma) continue;
    l.inputs[0].forEach((n, k) => {
      const o = owner.get(n);
      if (!o) return;
      const s = partial.get(o.layer) ?? new Array<number | undefined>(graph.producers.get(o.layer)!.units.length).fill(undefined);
      partial.set(o.layer, s);
      s[o.channel] ??= Math.abs(gamma.data[k]);
    });
  }
  const scores: ChannelScores = {};
  for (const [name, s] of partial) if (s.every((v) => v !== undefined)) scores[name] = s as number[];
  return scores;
}

/** Importance of every producer channel under a criterion (see ChannelScores). */
export function channelImportance(model: tf.LayersModel, graph: ChannelGraph, criterion: Criterion): ChannelScores {
  if (criterion === 'bn') return bnGammas(model, graph);
  return filterNorms(model, graph, criterion === 'l1' ? 1 : 2);
}

/** Element-wise sum of scores reported by several sites (for federated pruning). */
export function sumScores(all: readonly ChannelScores[]): ChannelScores {
  const out: ChannelScores = {};
  for (const s of all) {
    for (const [name, v] of Object.entries(s)) {
      const acc = out[name];
      if (acc && acc.length !== v.length) throw new Error(`scores for ${name}: ${v.length} channels, expected ${acc.length}`);
      out[name] = acc ? acc.map((x, i) => x + v[i]) : [...v];
    }
  }
  return out;
}

/**
 * Scales raw scores so channels of layers with different fan-in compare in a global ranking:
 * L1 / n (mean |w|), L2 / √n (RMS w), |γ| as is.
 */
export function comparableScore(criterion: Criterion, score: number, fanIn: number): number {
  if (criterion === 'l1') return score / fanIn;
  if (criterion === 'l2') return score / Math.sqrt(fanIn);
  return score;
}
