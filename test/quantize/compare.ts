import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { getNamedWeights, setNamedWeights } from '../../models/index.ts';
import { openSession } from '../../runtime/session.ts';

/** Runs an exported ONNX model in ONNX Runtime (CPU) and returns the max abs difference from tfjs on `x` (NHWC). */
export async function maxAbsDiff(model: tf.LayersModel, onnxBytes: Uint8Array, x: tf.Tensor4D): Promise<{ diff: number; dims: number[]; scale: number }> {
  const tfOut = model.predict(x) as tf.Tensor;
  const ref = tfOut.rank === 4 ? tf.transpose(tfOut, [0, 3, 1, 2]) : tfOut;
  const xn = tf.transpose(x, [0, 3, 1, 2]);
  const session = await openSession(onnxBytes, { provider: 'cpu' });
  try {
    const out = await session.run({ input: { data: xn.dataSync() as Float32Array, dims: xn.shape } });
    const got = out.logits;
    const want = ref.dataSync();
    if (got.data.length !== want.length) throw new Error(`ONNX gave ${got.data.length} values, tfjs ${want.length}`);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got.data[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    return { diff, dims: got.dims, scale };
  } finally {
    await session.release();
  }
}

/**
 * Gives BatchNormalization layers seeded, non-trivial parameters and moving statistics
 * (γ ≈ 1 ± 0.3, β, μ ≈ ±0.2, σ² ≈ 1 ± 0.5) and biases small values, as training would, so BN
 * folding is exercised; kernels keep their initial values.
 */
export function perturbWeights(model: tf.LayersModel, seed: number): void {
  const around: Record<string, [number, number]> = { gamma: [1, 0.3], beta: [0, 0.2], moving_mean: [0, 0.2], moving_variance: [1, 0.5], bias: [0, 0.1] };
  setNamedWeights(
    model,
    getNamedWeights(model).map((t, i) => {
      const spec = around[t.name.slice(t.name.lastIndexOf('/') + 1)];
      if (!spec) return t;
      const r = tf.randomUniform([t.data.length], -1, 1, 'float32', seed + i).dataSync() as Float32Array;
      return { ...t, data: r.map((v) => spec[0] + spec[1] * v) };
    }),
  );
}

/** The parts of a decoded ONNX model the tests look at. */
export interface OnnxSummary {
  opset: number;
  irVersion: number;
  inputs: { name: string; dims: (number | string)[] }[];
  outputs: { name: string; dims: (number | string)[] }[];
  nodes: { opType: string; name: string; inputs: string[]; attrs: Record<string, number | number[] | string> }[];
}

/** Decodes an ONNX model with onnx-proto into a plain summary of its graph. */
export function decodeOnnx(bytes: Uint8Array): OnnxSummary {
  const m = onnxProto.onnx.ModelProto.decode(bytes);
  const g = m.graph as onnxProto.onnx.IGraphProto;
  const io = (v: onnxProto.onnx.IValueInfoProto) => ({
    name: v.name ?? '',
    dims: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue))),
  });
  const attr = (a: onnxProto.onnx.IAttributeProto): number | number[] | string => {
    if (a.ints && a.ints.length) return a.ints.map(Number);
    if (a.s && a.s.length) return new TextDecoder().decode(a.s);
    return a.f ? a.f : Number(a.i ?? 0);
  };
  return {
    opset: Number(m.opsetImport[0].version),
    irVersion: Number(m.irVersion),
    inputs: (g.input ?? []).map(io),
    outputs: (g.output ?? []).map(io),
    nodes: (g.node ?? []).map((n) => ({ opType: n.opType ?? '', name: n.name ?? '', inputs: n.input ?? [], attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', attr(a)])) })),
  };
}
