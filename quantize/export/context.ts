import { UserError } from '../../core/errors.ts';
import type { LayerNode } from './keras-graph.ts';
import type { OnnxGraph } from './onnx-graph.ts';

/** A BatchNormalization folded into the layer before it: y = x·scale + shift per output channel. */
export interface BnFold {
  scale: Float64Array;
  shift: Float64Array;
}

/** What a layer converter gets: the graph being built, the layer, its ONNX input names. */
export interface ConvertContext {
  g: OnnxGraph;
  node: LayerNode;
  inputs: string[];
  /** The reserved ONNX name the layer's output must have. */
  output: string;
  /** The BN folded into this layer, if any. */
  fold?: BnFold;
  /** Class names of the layers that read this layer's output. */
  readers: string[];
}

/**
 * Converts one layer: adds its nodes and returns the ONNX name of its output (`ctx.output`,
 * or the input's name for layers that vanish at inference, such as Dropout).
 */
export type LayerConverter = (ctx: ConvertContext) => string;

/** A layer's weight by its short name (`kernel`, `bias`, `gamma`, `moving_mean`, …), or undefined. */
export function weightOf(node: LayerNode, short: string): { data: Float32Array; shape: number[] } | undefined {
  const w = node.layer.weights.find((v) => v.originalName === `${node.name}/${short}` || v.originalName.endsWith(`/${short}`));
  if (!w) return undefined;
  return { data: w.read().dataSync() as Float32Array, shape: w.shape.map((d) => d ?? 1) };
}

/** Like weightOf, but a missing weight is an error. */
export function requireWeight(node: LayerNode, short: string): { data: Float32Array; shape: number[] } {
  const w = weightOf(node, short);
  if (!w) throw new Error(`layer '${node.name}' has no weight '${short}'`);
  return w;
}

/** The error for a layer or setting export cannot express. */
export function unsupported(node: LayerNode, what = 'is not supported by ONNX export'): UserError {
  return new UserError(`cannot export layer '${node.name}' (class ${node.className}): ${what}`);
}

/** A numeric pair config (kernelSize, strides, …) as two numbers. */
export function pair(v: unknown): number[] {
  return Array.isArray(v) ? (v as number[]) : [v as number, v as number];
}
