import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * A hand-built ONNX teacher: NCHW `input` [N, C, S, S] → Flatten → MatMul W [C·S·S, K] → Add b
 * → `logits` [N, K]. Its logits are easy to compute independently in the test.
 */
export function linearTeacherOnnx(c: number, s: number, w: Float32Array, b: Float32Array): Uint8Array {
  const d = c * s * s;
  const k = b.length;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const init = (name: string, dims: number[], data: Float32Array): onnxProto.onnx.ITensorProto => ({ name, dims, dataType: FLOAT, floatData: Array.from(data) });
  const vi = (name: string, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((x) => (typeof x === 'string' ? { dimParam: x } : { dimValue: x })) } } },
  });
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'linear_teacher',
    node: [
      { opType: 'Flatten', input: ['input'], output: ['flat'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'MatMul', input: ['flat', 'W'], output: ['mm'] },
      { opType: 'Add', input: ['mm', 'b'], output: ['logits'] },
    ],
    initializer: [init('W', [d, k], w), init('b', [k], b)],
    input: [vi('input', ['N', c, s, s])],
    output: [vi('logits', ['N', k])],
  };
  return onnx.ModelProto.encode({ irVersion: 7, opsetImport: [{ domain: '', version: 13 }], producerName: 'fedkd-test', graph }).finish();
}
