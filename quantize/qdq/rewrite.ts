import { UserError } from '../../core/errors.ts';
import type { TensorRange } from '../calibration/histogram.ts';
import { defaultOpset, floatTensor, floatValues, getIntAttr, intAttr, intTensor, type ModelProto, type NodeProto, type TensorProto } from './onnx-tensors.ts';
import { activationQParams, type ActivationQParams, quantizeBias, quantizeWeightsPerChannel } from './params.ts';
import { consumersOf } from './select.ts';

/** Ops that only move or pick values: their output reuses their input's quantization, so ORT drops the Q/DQ around them. */
const VALUE_PRESERVING = new Set(['MaxPool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'Transpose', 'Identity']);

/** Options of insertQdq. */
export interface QdqOptions {
  /** Node names to keep in FP32 (mixed precision): float weights; a tensor read only by such nodes gets no Q/DQ. */
  keepFp32?: ReadonlySet<string>;
}

/** The weight's output-channel axis for per-channel quantization, or undefined when the node's weight is not quantized. */
function weightAxis(n: NodeProto): number | undefined {
  if (n.opType === 'Conv') return 0;
  if (n.opType === 'ConvTranspose') return 1;
  if (n.opType === 'Gemm') return getIntAttr(n, 'transB', 0) ? 0 : 1;
  return undefined;
}

/**
 * Rewrites an FP32 ONNX model into QDQ form (ONNX Runtime's static quantization layout):
 * each calibrated activation gets QuantizeLinear → DequantizeLinear with uint8 asymmetric
 * parameters; Conv/ConvTranspose/Gemm weights become per-channel symmetric int8 constants
 * behind a DequantizeLinear, biases int32 with scale inputScale·weightScale. ORT's graph
 * optimiser then fuses DQ → Conv → Q into QLinearConv (and Gemm into QGemm) on CPU.
 * Needs opset ≥ 13 (per-channel DequantizeLinear). Edits `model` in place and returns it.
 */
export function insertQdq(model: ModelProto, ranges: ReadonlyMap<string, TensorRange>, o: QdqOptions = {}): ModelProto {
  if (defaultOpset(model) < 13) throw new UserError(`INT8 quantization needs ONNX opset >= 13, the model has ${defaultOpset(model)}`);
  const g = model.graph!;
  const keep = o.keepFp32 ?? new Set<string>();
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const newInits: TensorProto[] = [];
  const prelude: NodeProto[] = [];
  const dq = (name: string, inputs: string[], axis?: number): NodeProto => ({ opType: 'DequantizeLinear', name, input: inputs, output: [name], attribute: axis === undefined ? [] : [intAttr('axis', axis)] });

  // activation parameters; value-preserving ops inherit their input's
  const producer = new Map<string, NodeProto>();
  for (const n of g.node ?? []) for (const out of n.output ?? []) producer.set(out, n);
  const readers = consumersOf(g);
  const qp = new Map<string, ActivationQParams>();
  for (const [t, r] of ranges) {
    const p = producer.get(t);
    if ((readers.get(t) ?? []).every((n) => keep.has(n.name ?? ''))) continue; // only FP32 readers: nothing to gain
    const inherited = p && VALUE_PRESERVING.has(p.opType ?? '') ? qp.get(p.input?.[0] ?? '') : undefined;
    qp.set(t, inherited ?? activationQParams(r));
  }
  const qdqOf = (t: string): NodeProto[] => {
    const { scale, zeroPoint } = qp.get(t)!;
    newInits.push(floatTensor(`${t}_scale`, [], [scale]), intTensor(`${t}_zero_point`, [], 'uint8', [zeroPoint]));
    return [
      { opType: 'QuantizeLinear', name: `${t}_QuantizeLinear`, input: [t, `${t}_scale`, `${t}_zero_point`], output: [`${t}_quantized`] },
      dq(`${t}_dequantized`, [`${t}_quantized`, `${t}_scale`, `${t}_zero_point`]),
    ];
  };

  // weights and biases
  for (const n of g.node ?? []) {
    const axis = weightAxis(n);
    const input = n.input ?? [];
    const w = inits.get(input[1] ?? '');
    if (axis === undefined || keep.has(n.name ?? '') || !w || w.dataType !== 1) continue;
    const { data, dims } = floatValues(w);
    const { q, scales } = quantizeWeightsPerChannel(data, dims, axis);
    const wName = `${w.name}_${n.name}`;
    newInits.push(intTensor(`${wName}_quantized`, dims, 'int8', q), floatTensor(`${wName}_scale`, [scales.length], scales), intTensor(`${wName}_zero_point`, [scales.length], 'int8', new Int8Array(scales.length)));
    prelude.push(dq(`${wName}_dequantized`, [`${wName}_quantized`, `${wName}_scale`, `${wName}_zero_point`], axis));
    input[1] = `${wName}_dequantized`;
    const b = inits.get(input[2] ?? '');
    const xq = qp.get(input[0] ?? '');
    if (b && xq && b.dataType === 1) {
      const bias = quantizeBias(floatValues(b).data, xq.scale, scales);
      const bName = `${b.name}_${n.name}`;
      newInits.push(intTensor(`${bName}_quantized`, [bias.q.length], 'int32', bias.q), floatTensor(`${bName}_scale`, [bias.q.length], bias.scales), intTensor(`${bName}_zero_point`, [bias.q.length], 'int32', new Int32Array(bias.q.length)));
      prelude.push(dq(`${bName}_dequantized`, [`${bName}_quantized`, `${bName}_scale`, `${bName}_zero_point`], 0));
      input[2] = `${bName}_dequantized`;
    }
  }

  // activations: readers take the dequantized tensor; graph outputs keep the float one
  const nodes: NodeProto[] = [...prelude];
  for (const i of g.input ?? []) if (qp.has(i.name ?? '')) nodes.push(...qdqOf(i.name ?? ''));
  for (const n of g.node ?? []) {
    n.input = (n.input ?? []).map((t) => (qp.has(t) ? `${t}_dequantized` : t));
    nodes.push(n);
    for (const out of n.output ?? []) if (qp.has(out)) nodes.push(...qdqOf(out));
  }
  const stillUsed = new Set(nodes.flatMap((n) => n.input ?? []));
  g.initializer = [...(g.initializer ?? []), ...newInits].filter((t) => stillUsed.has(t.name ?? ''));
  g.node = nodes;
  return model;
}
