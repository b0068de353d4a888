import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The ONNX operator set fedkd's exporter targets (Resize, Clip and Pad take tensor inputs from 13 on). */
export const OPSET = 13;
/** IR version matching opset 13 (ONNX 1.8). */
export const IR_VERSION = 7;

/** An attribute value: numbers become INT unless `float` is given; arrays become INTS. */
export type AttrValue = number | number[] | string | { float: number };

/** A float32 or int64 initializer. */
export type InitData = Float32Array | BigInt64Array;

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if (typeof v === 'object') return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.INT, i: v };
}

/** A tensor's type and shape for graph inputs/outputs; a string dimension is symbolic (e.g. the batch `N`). */
export function valueInfo(name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/**
 * Collects the nodes and initializers of one ONNX graph, with unique names, and encodes the
 * finished model. Initializers are stored as little-endian raw data.
 */
export class OnnxGraph {
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly used = new Set<string>();

  /** A name not used yet in this graph, `base` itself when free. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a constant tensor and returns its (unique) name. */
  constant(base: string, dims: number[], data: InitData): string {
    const name = this.unique(base);
    const dataType = data instanceof Float32Array ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
    this.initializers.push({ name, dims, dataType, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  }

  /** A float32 constant from a plain array. */
  floats(base: string, dims: number[], values: readonly number[]): string {
    return this.constant(base, dims, Float32Array.from(values));
  }

  /** An int64 constant from a plain array. */
  int64s(base: string, values: readonly number[]): string {
    return this.constant(base, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Adds a node; `output` must already be reserved by unique(). Returns `output`. */
  node(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}, name = output): string {
    this.nodes.push({
      opType,
      name: this.unique(`${name}#${opType}`),
      input: inputs,
      output: [output],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** Adds a node writing to a fresh intermediate tensor named after `base`. */
  temp(opType: string, inputs: string[], base: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(opType, inputs, this.unique(base), attrs);
  }

  /** Encodes the graph as an ONNX model (opset 13, IR 7). */
  encode(name: string, inputs: onnxProto.onnx.IValueInfoProto[], outputs: onnxProto.onnx.IValueInfoProto[], docString: string): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'fedkd',
      producerVersion: '0.1.0',
      docString,
      graph: { name, node: this.nodes, initializer: this.initializers, input: inputs, output: outputs },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
