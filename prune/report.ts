import type * as tf from '@tensorflow/tfjs';
import { countMacs, countParams, macsByLayer } from '../models/stats.ts';
import type { PruneMasks } from './masks.ts';

/** Size figures of one model. */
export interface ModelFigures {
  /** All parameters, trainable and BN moving statistics. */
  params: number;
  /** Multiply-accumulates for one image (models/stats.ts countMacs). */
  macs: number;
  /** Float32 weight bytes (params · 4); the CLI adds the bytes on disk as `diskBytes`. */
  weightBytes: number;
  diskBytes?: number;
}

/** A before/after figure that later stages fill in (ONNX latency, accuracy, AUC after fine-tuning). */
export interface ExtraFigure {
  before?: number;
  after?: number;
  unit?: string;
}

/**
 * What pruning did: settings, whole-model figures before and after, per-layer channels and MACs.
 * `extra` is open: quantize/ and train/ add `onnxLatencyMs`, `auc`, `accuracy` once a pruned
 * model is exported and fine-tuned.
 */
export interface PruneReport {
  settings: Record<string, unknown>;
  before: ModelFigures;
  after: ModelFigures;
  /** Fraction removed, per figure: 1 − after/before. */
  reduction: { params: number; macs: number; weightBytes: number };
  layers: { layer: string; channelsBefore: number; channelsAfter: number; macsBefore: number; macsAfter: number }[];
  extra: Record<string, ExtraFigure>;
}

/** Params, MACs and float32 weight bytes of a model. */
export function modelFigures(model: tf.LayersModel): ModelFigures {
  const params = countParams(model).total;
  return { params, macs: countMacs(model), weightBytes: params * 4 };
}

const cut = (b: number, a: number): number => (b === 0 ? 0 : 1 - a / b);

/** Builds the before/after report of a pruning run. */
export function pruneReport(before: tf.LayersModel, after: tf.LayersModel, masks: PruneMasks, settings: Record<string, unknown>): PruneReport {
  const fb = modelFigures(before);
  const fa = modelFigures(after);
  const macsAfter = new Map(macsByLayer(after).map((l) => [l.layer, l.macs]));
  const layers = macsByLayer(before).map((l) => {
    const m = masks[l.layer];
    const channels = m?.length ?? NaN;
    return {
      layer: l.layer,
      channelsBefore: channels,
      channelsAfter: m ? m.filter(Boolean).length : channels,
      macsBefore: l.macs,
      macsAfter: macsAfter.get(l.layer) ?? 0,
    };
  });
  return {
    settings,
    before: fb,
    after: fa,
    reduction: { params: cut(fb.params, fa.params), macs: cut(fb.macs, fa.macs), weightBytes: cut(fb.weightBytes, fa.weightBytes) },
    layers,
    extra: {},
  };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The report as text lines for a terminal. */
export function formatReport(r: PruneReport): string {
  const row = (name: string, b: number, a: number): string => `${name.padEnd(14)} ${String(b).padStart(12)} ${String(a).padStart(12)}  -${pct(cut(b, a))}`;
  const lines = [
    `${'figure'.padEnd(14)} ${'before'.padStart(12)} ${'after'.padStart(12)}  change`,
    row('parameters', r.before.params, r.after.params),
    row('MACs', r.before.macs, r.after.macs),
    row('weight bytes', r.before.weightBytes, r.after.weightBytes),
  ];
  if (r.before.diskBytes !== undefined && r.after.diskBytes !== undefined) lines.push(row('bytes on disk', r.before.diskBytes, r.after.diskBytes));
  const num = (x: number | undefined): string => (x === undefined ? '-' : String(Number(x.toPrecision(4))));
  for (const [k, f] of Object.entries(r.extra)) {
    const change = f.before !== undefined && f.after !== undefined ? `Δ ${num(f.after - f.before)}` : '';
    lines.push(`${k.padEnd(14)} ${num(f.before).padStart(12)} ${num(f.after).padStart(12)}  ${change} ${f.unit ?? ''}`.trimEnd());
  }
  lines.push('', `${'layer'.padEnd(28)} channels      MACs`);
  for (const l of r.layers) {
    const ch = Number.isNaN(l.channelsBefore) ? '' : `${l.channelsBefore}→${l.channelsAfter}`;
    lines.push(`${l.layer.padEnd(28)} ${ch.padEnd(12)}  ${l.macsBefore}→${l.macsAfter}`);
  }
  return lines.join('\n');
}
