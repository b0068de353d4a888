import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSession } from '../runtime/session.ts';
import { DataType, decodeModel, encodeModel, floatValues, type GraphProto, type NodeProto, type TensorProto } from './qdq/onnx-tensors.ts';
import onnxProto from 'onnx-proto';

/** The largest finite float16; values beyond it are clamped rather than turned into ±Inf. */
export const FP16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `v` (round to nearest even, subnormals kept, clamped to ±65504, NaN kept). */
export function toFloat16Bits(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  f32[0] = Math.max(-FP16_MAX, Math.min(FP16_MAX, v));
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  const e = exp - 127 + 15;
  if (e >= 1) {
    // normal: keep 10 mantissa bits, round to nearest even (a carry may bump the exponent, never past 65504)
    const half = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
  }
  if (e < -10) return sign; // below half the smallest subnormal
  const m = mant | 0x800000; // implicit bit
  const shift = 14 - e; // 14..24
  const q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return sign | (q + (rest > halfway || (rest === halfway && (q & 1)) ? 1 : 0));
}

/** The float value of binary16 bits. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function fp16Initializer(t: TensorProto): TensorProto {
  const { data, dims } = floatValues(t);
  const bits = Uint16Array.from(data, toFloat16Bits);
  return { name: t.name, dims, dataType: DataType.FLOAT16, rawData: new Uint8Array(bits.buffer) };
}

const cast = (name: string, from: string, to: string, type: number): NodeProto => ({
  opType: 'Cast',
  name,
  input: [from],
  output: [to],
  attribute: [{ name: 'to', type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: type }],
});

/**
 * The model with float16 weights and float16 compute: float initializers become float16, the
 * float input is Cast to float16 on entry and every output Cast back to float32, so callers
 * still feed and read float32. Nodes whose op type is in `fp32Ops` (no float16 kernel on the
 * target) run in float32 between Casts. Integer tensors (shapes, indices) are untouched.
 */
export function convertToFp16(fp32: Uint8Array, fp32Ops: ReadonlySet<string> = new Set()): Uint8Array {
  const model = decodeModel(fp32);
  const g = model.graph as GraphProto;
  const floatInits = new Set((g.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT).map((t) => t.name ?? ''));
  g.initializer = (g.initializer ?? []).map((t) => (t.dataType === DataType.FLOAT ? fp16Initializer(t) : t));
  const floatInputs = (g.input ?? []).filter((i) => i.type?.tensorType?.elemType === DataType.FLOAT).map((i) => i.name ?? '');
  const outputs = new Set((g.output ?? []).map((o) => o.name ?? ''));
  // every float tensor (not an initializer) is float16 inside, named <t>_fp16 where it differs from the float32 one
  const renamed = new Map<string, string>([...floatInputs, ...outputs].map((t) => [t, `${t}_fp16`]));
  const half = (t: string): string => renamed.get(t) ?? t;
  const nodes: NodeProto[] = floatInputs.map((t) => cast(`${t}#CastToFp16`, t, half(t), DataType.FLOAT16));
  for (const n of g.node ?? []) {
    if (fp32Ops.has(n.opType ?? '')) {
      // float32 island: cast its float16 inputs up, its outputs back down
      const ins = (n.input ?? []).map((t) => {
        if (!t || !(floatInits.has(t) || producesFloat(g, t))) return t;
        nodes.push(cast(`${n.name}/${t}#CastToFp32`, half(t), `${t}_as_fp32_${n.name}`, DataType.FLOAT));
        return `${t}_as_fp32_${n.name}`;
      });
      const outs = (n.output ?? []).map((t) => `${t}_fp32`);
      nodes.push({ ...n, input: ins, output: outs });
      (n.output ?? []).forEach((t, i) => nodes.push(cast(`${t}#CastToFp16`, outs[i], half(t), DataType.FLOAT16)));
    } else nodes.push({ ...n, input: (n.input ?? []).map(half), output: (n.output ?? []).map(half) });
  }
  for (const o of outputs) nodes.push(cast(`${o}#CastToFp32`, half(o), o, DataType.FLOAT));
  g.node = nodes;
  g.valueInfo = []; // stale float32 annotations; ORT infers the types again
  return encodeModel(model);
}

/** Whether `t` is written by a node (an activation) rather than a graph input or initializer. */
function producesFloat(g: GraphProto, t: string): boolean {
  return (g.node ?? []).some((n) => (n.output ?? []).includes(t)) || (g.input ?? []).some((i) => i.name === t);
}

/**
 * Where ORT's CPU provider computes a float16 model: 'float16' when its optimised graph keeps
 * float16 convolutions, 'float32' when ORT's cast insertion moved them to float32 (x86 builds
 * without float16 conv kernels: the weights are upcast once at load, so FP16 only halves the file).
 */
export async function fp16Compute(bytes: Uint8Array): Promise<'float16' | 'float32'> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fedkd-fp16-'));
  try {
    const file = path.join(dir, 'optimized.onnx');
    const s = await openSession(bytes, { provider: 'cpu', optimizedModelPath: file });
    await s.release();
    const g = decodeModel(new Uint8Array(await readFile(file))).graph!;
    const upcast = (g.node ?? []).some((n) => /Conv|Gemm/.test(n.opType ?? '') && (n.name ?? '').startsWith('InsertedPrecisionFreeCast'));
    return upcast ? 'float32' : 'float16';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
