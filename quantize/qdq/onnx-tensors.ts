import onnxProto from 'onnx-proto';
import { UserError } from '../../core/errors.ts';

const { onnx } = onnxProto;
/** onnx-proto's message types. */
export type ModelProto = onnxProto.onnx.IModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;

/** ONNX element types used by QDQ models. */
export const DataType = onnx.TensorProto.DataType;

/** Decodes ONNX bytes; a file that is not an ONNX model → UserError. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  try {
    const m = onnx.ModelProto.decode(bytes);
    if (!m.graph) throw new Error('no graph');
    return m;
  } catch (e) {
    throw new UserError(`not an ONNX model: ${(e as Error).message}`);
  }
}

/** Encodes a model back to bytes. */
export function encodeModel(m: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

/** The opset of the default ONNX domain. */
export function defaultOpset(m: ModelProto): number {
  const o = (m.opsetImport ?? []).find((s) => !s.domain || s.domain === 'ai.onnx');
  return Number(o?.version ?? 0);
}

/** A float32 initializer's values and dims (from raw_data or float_data). */
export function floatValues(t: TensorProto): { data: Float32Array; dims: number[] } {
  if (t.dataType !== DataType.FLOAT) throw new Error(`initializer ${t.name} is not float32`);
  const dims = (t.dims ?? []).map(Number);
  if (t.rawData && t.rawData.length) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return { data: new Float32Array(copy.buffer, 0, copy.length / 4), dims };
  }
  return { data: Float32Array.from(t.floatData ?? []), dims };
}

/** An initializer of any integer type from its values, stored little-endian in raw_data. */
export function intTensor(name: string, dims: number[], type: 'int8' | 'uint8' | 'int32', values: ArrayLike<number>): TensorProto {
  const arr = type === 'int8' ? Int8Array.from(values) : type === 'uint8' ? Uint8Array.from(values) : Int32Array.from(values);
  const dataType = type === 'int8' ? DataType.INT8 : type === 'uint8' ? DataType.UINT8 : DataType.INT32;
  return { name, dims, dataType, rawData: new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength) };
}

/** A float32 initializer. */
export function floatTensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const arr = Float32Array.from(values);
  return { name, dims, dataType: DataType.FLOAT, rawData: new Uint8Array(arr.buffer) };
}

/** An INT attribute (e.g. DequantizeLinear's axis). */
export function intAttr(name: string, i: number): onnxProto.onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

/** A node's INT attribute, or `fallback`. */
export function getIntAttr(n: NodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a ? Number(a.i) : fallback;
}
