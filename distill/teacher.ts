import type { ModelSession } from '../runtime/session.ts';

/** Images as distill/ reads them: NHWC float32, N·H·W·C values (data/'s loadDataset shape). */
export interface ImageBatchSource {
  n: number;
  size: number;
  channels: number;
  x: Float32Array;
}

/** The input and output names of the contract (docs/CONTRACTS.md): NCHW `input` → `logits`. */
export const TEACHER_INPUT = 'input';
export const TEACHER_OUTPUT = 'logits';

/** NHWC rows [from, to) of `set` as one NCHW float32 block. */
export function toNchw(set: ImageBatchSource, from: number, to: number): Float32Array {
  const { size: s, channels: c } = set;
  const px = s * s;
  const out = new Float32Array((to - from) * px * c);
  for (let i = from; i < to; i++) {
    const src = i * px * c;
    const dst = (i - from) * px * c;
    for (let p = 0; p < px; p++) for (let k = 0; k < c; k++) out[dst + k * px + p] = set.x[src + p * c + k];
  }
  return out;
}

/**
 * Runs an ONNX teacher over every image of `set` in batches of `batchSize` and returns its
 * logits, N × classes. The input is transposed NHWC → NCHW; the contract's names are used
 * when the model has them, else its first input and output. `onBatch(rows)` reports progress.
 */
export async function runTeacher(
  session: ModelSession,
  set: ImageBatchSource,
  opts: { batchSize: number; onBatch?: (rows: number) => void },
): Promise<{ logits: Float32Array; numClasses: number }> {
  const inName = session.inputNames.includes(TEACHER_INPUT) ? TEACHER_INPUT : session.inputNames[0];
  const outName = session.outputNames.includes(TEACHER_OUTPUT) ? TEACHER_OUTPUT : session.outputNames[0];
  let logits = new Float32Array(0);
  let numClasses = 0;
  for (let from = 0; from < set.n; from += opts.batchSize) {
    const to = Math.min(set.n, from + opts.batchSize);
    const out = await session.run({ [inName]: { data: toNchw(set, from, to), dims: [to - from, set.channels, set.size, set.size] } });
    const y = out[outName];
    if (y.dims.length !== 2 || y.dims[0] !== to - from) throw new Error(`teacher output '${outName}' has shape [${y.dims}], expected [${to - from}, classes]`);
    if (!numClasses) {
      numClasses = y.dims[1];
      logits = new Float32Array(set.n * numClasses);
    }
    logits.set(y.data, from * numClasses);
    opts.onBatch?.(to - from);
  }
  return { logits, numClasses };
}
