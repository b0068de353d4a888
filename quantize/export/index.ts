import type * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../core/files.ts';
import type { ConvertContext, LayerConverter } from './context.ts';
import { unsupported } from './context.ts';
import { OTHER_CONVERTERS } from './convert-other.ts';
import { bnAffine, FOLDS_BN, WEIGHTED_CONVERTERS } from './convert-weighted.ts';
import { type LayerGraph, type LayerNode, readLayerGraph } from './keras-graph.ts';
import { OnnxGraph, OPSET, valueInfo } from './onnx-graph.ts';

export { OPSET } from './onnx-graph.ts';

/** The ONNX input name of exported models (docs/CONTRACTS.md). */
export const ONNX_INPUT = 'input';
/** The ONNX output name of exported models; further outputs get `logits_1`, … */
export const ONNX_OUTPUT = 'logits';
/** The symbolic batch dimension. */
const BATCH = 'N';

const CONVERTERS: Record<string, LayerConverter> = { ...WEIGHTED_CONVERTERS, ...OTHER_CONVERTERS };

/** Names of BN layers that fold into the layer before them: its only reader, with a linear activation, not a model output. */
function foldableBns(graph: LayerGraph): Map<string, string> {
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const folds = new Map<string, string>(); // producer → BN
  for (const n of graph.nodes) {
    if (n.className !== 'BatchNormalization' || n.inputs.length !== 1) continue;
    const axis = n.config.axis as number;
    if (axis !== -1 && axis !== n.outShape.length) continue;
    const p = byName.get(n.inputs[0]) as LayerNode;
    const linear = ((p.config.activation as string | undefined) ?? 'linear') === 'linear';
    if (FOLDS_BN.has(p.className) && linear && graph.consumers.get(p.name) === 1) folds.set(p.name, n.name);
  }
  return folds;
}

/** ONNX dims of a tfjs shape without batch: images become [N, C, H, W]. */
function onnxDims(shape: number[]): (number | string)[] {
  return shape.length === 3 ? [BATCH, shape[2], shape[0], shape[1]] : [BATCH, ...shape];
}

/**
 * Exports a tfjs functional LayersModel to an FP32 ONNX model (opset 13) by walking its
 * layer graph. The input `input` is NCHW [N, C, H, W] with a dynamic batch axis; the output
 * `logits` is [N, classes] or, for image outputs, NCHW [N, C, H, W]. Every BatchNormalization
 * that follows a convolution or dense layer is folded into its weights; any other becomes
 * Mul + Add. Depthwise convs become grouped Convs, Dense becomes Gemm, Dropout vanishes.
 * A layer that cannot be expressed → UserError naming the layer and its class.
 */
export function exportOnnx(model: tf.LayersModel): Uint8Array {
  const graph = readLayerGraph(model);
  const g = new OnnxGraph();
  const folds = foldableBns(graph);
  const foldedBns = new Set(folds.values());
  const tensor = new Map<string, string>([[graph.inputLayer, g.unique(ONNX_INPUT)]]);
  const outputName = new Map(graph.outputLayers.map((n, i) => [n, g.unique(i === 0 ? ONNX_OUTPUT : `${ONNX_OUTPUT}_${i}`)]));
  const readers = new Map<string, string[]>();
  for (const n of graph.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n.className]);
  let inputShape: number[] = [];
  for (const node of graph.nodes) {
    if (node.className === 'InputLayer') {
      inputShape = node.outShape;
      continue;
    }
    const inputs = node.inputs.map((n) => tensor.get(n) as string);
    if (foldedBns.has(node.name)) {
      tensor.set(node.name, inputs[0]);
      continue;
    }
    const convert = CONVERTERS[node.className];
    if (!convert) throw unsupported(node);
    const bn = folds.get(node.name);
    const namedAs = bn ?? node.name;
    const ctx: ConvertContext = { g, node, inputs, output: outputName.get(namedAs) ?? g.unique(namedAs), readers: readers.get(namedAs) ?? [] };
    if (bn) ctx.fold = bnAffine(graph.nodes.find((n) => n.name === bn) as LayerNode);
    tensor.set(node.name, convert(ctx));
  }
  const outputs = graph.outputLayers.map((name) => {
    const want = outputName.get(name) as string;
    const have = tensor.get(name) as string;
    if (have !== want) g.node('Identity', [have], want);
    const shape = graph.nodes.find((n) => n.name === name)?.outShape as number[];
    return valueInfo(want, onnxDims(shape));
  });
  const doc = `exported by fedkd from tfjs model '${model.name}' (opset ${OPSET}, BN folded)`;
  return g.encode(model.name, [valueInfo(ONNX_INPUT, onnxDims(inputShape))], outputs, doc);
}

/** Exports a model (see exportOnnx) and writes the file atomically; returns its size in bytes. */
export async function writeOnnx(model: tf.LayersModel, file: string): Promise<number> {
  const bytes = exportOnnx(model);
  await writeFileAtomic(file, bytes);
  return bytes.length;
}
