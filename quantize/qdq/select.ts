import type { GraphProto, NodeProto } from './onnx-tensors.ts';

/** Ops whose float inputs get Q→DQ: ONNX Runtime has quantized kernels or QDQ fusions for them. */
const QUANTIZED_INPUT_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Add', 'Mul', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Resize']);
/** Ops whose outputs get Q→DQ. */
const QUANTIZED_OUTPUT_OPS = new Set([...QUANTIZED_INPUT_OPS, 'Relu', 'Clip']);
/** Activations ORT folds into the producing op when the Q after them clamps the same way. */
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** Who reads each tensor. */
export function consumersOf(graph: GraphProto): Map<string, NodeProto[]> {
  const m = new Map<string, NodeProto[]>();
  for (const n of graph.node ?? []) for (const t of n.input ?? []) if (t) m.set(t, [...(m.get(t) ?? []), n]);
  return m;
}

/**
 * The float activation tensors a QDQ model quantizes (the calibration targets): the graph
 * input and every tensor read by, or written by, an op with a quantized kernel — except graph
 * outputs (kept FP32) and a Conv/Gemm/Add output whose only reader is a Relu/Clip: there the
 * Q goes after the activation, which ORT then removes (QLinearConv clamps through the
 * zero point).
 */
export function activationsToQuantize(graph: GraphProto): string[] {
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const outputs = new Set((graph.output ?? []).map((o) => o.name));
  const consumers = consumersOf(graph);
  const chosen: string[] = [];
  const consider = (t: string, producer: NodeProto | undefined) => {
    if (!t || initializers.has(t) || outputs.has(t) || chosen.includes(t)) return;
    const readers = consumers.get(t) ?? [];
    if (readers.length === 0) return;
    if (producer && readers.length === 1 && FUSED_ACTIVATIONS.has(readers[0].opType ?? '')) return;
    const byReader = readers.some((r) => QUANTIZED_INPUT_OPS.has(r.opType ?? ''));
    const byProducer = producer ? QUANTIZED_OUTPUT_OPS.has(producer.opType ?? '') : true;
    if (byReader || byProducer) chosen.push(t);
  };
  for (const i of graph.input ?? []) consider(i.name ?? '', undefined);
  for (const n of graph.node ?? []) for (const o of n.output ?? []) consider(o, n);
  return chosen;
}
