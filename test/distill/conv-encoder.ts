import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** A hand-built encoder: Conv, 2 output channels, 2×2 kernel, stride 2, with bias; [N,1,S,S] → [N,2,S/2,S/2]. */
export function convEncoderOnnx(w: number[], b: number[]): Uint8Array {
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const dims = (d: (number | string)[]): onnxProto.onnx.ITensorShapeProto => ({ dim: d.map((x) => (typeof x === 'string' ? { dimParam: x } : { dimValue: x })) });
  const ints = (name: string, v: number[]): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'conv_encoder',
    node: [{ opType: 'Conv', input: ['input', 'W', 'B'], output: ['embedding'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] }],
    initializer: [
      { name: 'W', dims: [2, 1, 2, 2], dataType: FLOAT, floatData: w },
      { name: 'B', dims: [2], dataType: FLOAT, floatData: b },
    ],
    input: [{ name: 'input', type: { tensorType: { elemType: FLOAT, shape: dims(['N', 1, 'H', 'W']) } } }],
    output: [{ name: 'embedding', type: { tensorType: { elemType: FLOAT, shape: dims(['N', 2, 'h', 'w']) } } }],
  };
  return onnx.ModelProto.encode({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'fedkd-test', graph }).finish();
}
