import type * as tf from '@tensorflow/tfjs';
import { layerKind, producerSpec, type LayerKind } from './layer-kinds.ts';
import { UnionFind } from './union-find.ts';

/** What to leave out of pruning. */
export interface ExcludeOptions {
  /** Layer names whose output channels are never pruned. */
  exclude?: readonly string[];
  /** Keep the input stem: the first producers after the model inputs. */
  excludeStem?: boolean;
  /** Keep the channels entering the classifier head (the layers that make the model outputs). */
  excludeHead?: boolean;
}

/** One prunable channel: channels of several producers tied together (by residual adds) are one unit. */
export interface ChannelUnit {
  id: number;
  /** The producer channels removed together with this unit. */
  members: { layer: string; channel: number }[];
  /** Never pruned: tied to a model input or output, an opaque layer, or an excluded layer. */
  blocked: boolean;
  /** The channel group it belongs to. */
  group: number;
}

/** Producers whose channels depend on each other (through adds), pruned with one ratio. */
export interface ChannelGroup {
  id: number;
  producers: string[];
  /** Unit ids, in order of the first producer's channels. */
  units: number[];
}

/** A layer with the channel nodes of each input tensor and of its output. */
export interface LayerChannels {
  name: string;
  kind: LayerKind;
  className: string;
  inputs: number[][];
  output: number[];
}

/** A producer: its output channels' units and the number of kernel weights per output channel. */
export interface ProducerChannels {
  units: number[];
  fanIn: number;
}

/**
 * The channel dependency graph of a functional LayersModel: which channels must be pruned
 * together (groups follow conv → BN → depthwise → next conv, ties across residual adds,
 * offsets across concatenations, NHWC flatten into dense rows).
 */
export interface ChannelGraph {
  layers: LayerChannels[];
  producers: Map<string, ProducerChannels>;
  units: ChannelUnit[];
  groups: ChannelGroup[];
  /** Unit of each channel node (nodes are the entries of `LayerChannels.inputs/output`). */
  nodeUnit: number[];
}

interface Builder {
  uf: UnionFind;
  producer: (string | null)[];
  channel: number[];
  blocked: boolean[];
}

function newNodes(b: Builder, n: number, producer: string | null, blocked: boolean): number[] {
  return Array.from({ length: n }, (_, c) => {
    const id = b.uf.add();
    b.producer.push(producer);
    b.channel.push(c);
    b.blocked.push(blocked);
    return id;
  });
}

function lastDim(shape: unknown): number {
  const s = (Array.isArray(shape) && Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  const c = s[s.length - 1];
  if (typeof c !== 'number') throw new Error(`cannot prune: channel count unknown in shape [${s}]`);
  return c;
}

/** The output channel nodes of one layer, given its kind and the nodes of its inputs. */
function outputNodes(b: Builder, layer: tf.layers.Layer, kind: LayerKind, ins: number[][], excluded: boolean): number[] {
  const block = (nodes: number[]): void => nodes.forEach((n) => (b.blocked[n] = true));
  const outC = lastDim(layer.outputShape);
  switch (kind) {
    case 'input':
      return newNodes(b, outC, null, true);
    case 'producer':
      return newNodes(b, outC, layer.name, excluded);
    case 'channelwise':
      return ins[0];
    case 'concat':
      return ins.flat();
    case 'tie':
      if (ins.some((s) => s.length !== ins[0].length)) break;
      for (const s of ins.slice(1)) s.forEach((n, i) => b.uf.union(ins[0][i], n));
      return ins[0];
    case 'flatten': {
      const reps = outC / ins[0].length;
      if (Number.isInteger(reps)) return Array.from({ length: outC }, (_, k) => ins[0][k % ins[0].length]);
      break;
    }
  }
  ins.forEach(block);
  return newNodes(b, outC, null, true);
}

/** A shared or multi-output layer: its inputs are never pruned, its outputs are new blocked channels. */
function opaqueNodes(b: Builder, nodes: readonly { inputTensors: tf.SymbolicTensor[]; outputTensors: tf.SymbolicTensor[] }[], byTensor: Map<number, number[]>): void {
  for (const node of nodes) {
    node.inputTensors.forEach((t) => byTensor.get(t.id)!.forEach((n) => (b.blocked[n] = true)));
    node.outputTensors.forEach((t) => byTensor.set(t.id, newNodes(b, lastDim(t.shape), null, true)));
  }
}

/** Producers that read only model-input channels: the stem. */
function stemProducers(layers: LayerChannels[], b: Builder): Set<string> {
  return new Set(layers.filter((l) => l.kind === 'producer' && l.inputs.flat().every((n) => b.producer[n] === null)).map((l) => l.name));
}

/** Analyses the channel dependencies of a functional LayersModel (see ChannelGraph). */
export function analyzeChannels(model: tf.LayersModel, opts: ExcludeOptions = {}): ChannelGraph {
  const b: Builder = { uf: new UnionFind(), producer: [], channel: [], blocked: [] };
  const byTensor = new Map<number, number[]>();
  const layers: LayerChannels[] = [];
  const excluded = new Set(opts.exclude ?? []);
  const known = new Set(model.layers.map((l) => l.name));
  for (const name of excluded) if (!known.has(name)) throw new Error(`no layer named '${name}' to exclude`);
  for (const t of model.inputs) byTensor.set(t.id, newNodes(b, lastDim(t.shape), null, true));
  for (const layer of model.layers) {
    // nodes of this model only: a layer reused by another model also has nodes there
    const nodes = layer.inboundNodes.filter((n) => n.inputTensors.every((t) => byTensor.has(t.id)));
    if (!nodes.length) throw new Error(`layer ${layer.name}: input not analysed yet (model not topologically ordered)`);
    if (nodes.length > 1 || nodes[0].outputTensors.length > 1) {
      opaqueNodes(b, nodes, byTensor);
      layers.push({ name: layer.name, kind: 'opaque', className: layer.getClassName(), inputs: [], output: [] });
      continue;
    }
    const kind = layerKind(layer);
    const node = nodes[0];
    const ins = kind === 'input' ? [] : node.inputTensors.map((t) => byTensor.get(t.id)!);
    const output = outputNodes(b, layer, kind, ins, excluded.has(layer.name));
    byTensor.set(node.outputTensors[0].id, output);
    layers.push({ name: layer.name, kind, className: layer.getClassName(), inputs: ins, output });
  }
  const block = (nodes: number[]): void => nodes.forEach((n) => (b.blocked[n] = true));
  const outputLayers = new Set(model.outputLayers.map((l) => l.name));
  for (const l of layers.filter((x) => outputLayers.has(x.name))) {
    block(l.output);
    if (opts.excludeHead) l.inputs.forEach(block);
  }
  if (opts.excludeStem) for (const l of layers.filter((x) => stemProducers(layers, b).has(x.name))) block(l.output);
  return finish(model, b, layers);
}

/** Turns union-find roots into units and producer components into groups. */
function finish(model: tf.LayersModel, b: Builder, layers: LayerChannels[]): ChannelGraph {
  const rootUnit = new Map<number, number>();
  const units: ChannelUnit[] = [];
  const nodeUnit = Array.from({ length: b.uf.length }, (_, n) => {
    const r = b.uf.find(n);
    let u = rootUnit.get(r);
    if (u === undefined) {
      u = units.length;
      rootUnit.set(r, u);
      units.push({ id: u, members: [], blocked: false, group: -1 });
    }
    const unit = units[u];
    if (b.blocked[n]) unit.blocked = true;
    const p = b.producer[n];
    if (p !== null) unit.members.push({ layer: p, channel: b.channel[n] });
    return u;
  });
  const names = layers.filter((l) => l.kind === 'producer').map((l) => l.name);
  const idx = new Map(names.map((n, i) => [n, i]));
  const luf = new UnionFind();
  names.forEach(() => luf.add());
  for (const u of units) for (const m of u.members) luf.union(idx.get(u.members[0].layer)!, idx.get(m.layer)!);
  const groupOf = new Map<number, ChannelGroup>();
  const groups: ChannelGroup[] = [];
  const producers = new Map<string, ProducerChannels>();
  for (const l of layers.filter((x) => x.kind === 'producer')) {
    const r = luf.find(idx.get(l.name)!);
    let g = groupOf.get(r);
    if (!g) {
      g = { id: groups.length, producers: [], units: [] };
      groupOf.set(r, g);
      groups.push(g);
    }
    g.producers.push(l.name);
    const pu = l.output.map((n) => nodeUnit[n]);
    for (const u of pu) {
      if (units[u].group === -1) {
        units[u].group = g.id;
        g.units.push(u);
      }
    }
    producers.set(l.name, { units: pu, fanIn: fanIn(model.getLayer(l.name), pu.length) });
  }
  return { layers, producers, units, groups, nodeUnit };
}

/** Kernel weights per output channel of a producer. */
function fanIn(layer: tf.layers.Layer, outC: number): number {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${producerSpec(layer).weight}`));
  return w ? w.shape.reduce((a: number, c) => a * (c ?? 1), 1) / outC : 1;
}
