import type * as tf from '@tensorflow/tfjs';
import { UserError } from '../../core/errors.ts';

/** A static NHWC shape without the batch axis, e.g. [H, W, C] or [features]. */
export type Shape = number[];

/** One layer of a functional model, as the exporter sees it. */
export interface LayerNode {
  name: string;
  className: string;
  config: Record<string, unknown>;
  layer: tf.layers.Layer;
  /** Names of the layers whose outputs feed this one, in order. */
  inputs: string[];
  /** Their shapes (no batch axis). */
  inShapes: Shape[];
  /** This layer's output shape (no batch axis). */
  outShape: Shape;
}

/** A functional model's graph in topological order. */
export interface LayerGraph {
  nodes: LayerNode[];
  inputLayer: string;
  outputLayers: string[];
  /** How many layer inputs and model outputs read each layer's output. */
  consumers: Map<string, number>;
}

interface FunctionalConfig {
  layers: { name: string; className: string; config: Record<string, unknown>; inboundNodes: [string, number, number, unknown][][] }[];
  inputLayers: [string, number, number][];
  outputLayers: [string, number, number][];
}

function staticShape(s: (number | null)[], where: string): Shape {
  const rest = s.slice(1);
  if (rest.some((d) => d === null)) throw new UserError(`cannot export: layer '${where}' has a dynamic spatial shape [${s}]`);
  return rest as number[];
}

/**
 * Reads a tfjs functional model's layer graph from its config (the same description
 * model.json stores): each layer once, with its inputs and static NHWC shapes, which are
 * recomputed with the layers' own computeOutputShape. Shared layers, multi-output layers,
 * nested models and several inputs are refused with a UserError.
 */
export function readLayerGraph(model: tf.LayersModel): LayerGraph {
  const cfg = model.getConfig() as unknown as FunctionalConfig;
  if (!Array.isArray(cfg.layers) || !Array.isArray(cfg.inputLayers)) throw new UserError(`cannot export model '${model.name}': not a functional model`);
  if (cfg.inputLayers.length !== 1) throw new UserError(`cannot export model '${model.name}': it has ${cfg.inputLayers.length} inputs, export supports one`);
  const shapes = new Map<string, Shape>();
  const consumers = new Map<string, number>();
  const nodes: LayerNode[] = [];
  const bump = (n: string) => consumers.set(n, (consumers.get(n) ?? 0) + 1);
  for (const l of cfg.layers) {
    const layer = model.getLayer(l.name);
    if (l.inboundNodes.length > 1) throw new UserError(`cannot export: layer '${l.name}' (class ${l.className}) is shared (used ${l.inboundNodes.length} times)`);
    const inbound = l.inboundNodes[0] ?? [];
    for (const [src, , tensorIndex] of inbound) {
      if (tensorIndex !== 0) throw new UserError(`cannot export: layer '${l.name}' reads output ${tensorIndex} of '${src}'; multi-output layers are not supported`);
      bump(src);
    }
    const inputs = inbound.map(([src]) => src);
    const inShapes = inputs.map((n) => shapes.get(n) as Shape);
    let outShape: Shape;
    if (l.className === 'InputLayer') {
      outShape = staticShape(l.config.batchInputShape as (number | null)[], l.name);
    } else {
      const batched = inShapes.map((s) => [null, ...s]);
      const out = layer.computeOutputShape(batched.length === 1 ? batched[0] : batched);
      if (Array.isArray(out[0])) throw new UserError(`cannot export: layer '${l.name}' (class ${l.className}) has several outputs`);
      outShape = staticShape(out as (number | null)[], l.name);
    }
    shapes.set(l.name, outShape);
    nodes.push({ name: l.name, className: l.className, config: l.config, layer, inputs, inShapes, outShape });
  }
  for (const [name] of cfg.outputLayers) bump(name);
  return { nodes, inputLayer: cfg.inputLayers[0][0], outputLayers: cfg.outputLayers.map(([n]) => n), consumers };
}
