import { openSession, type FloatTensor, type ModelSession } from '../../runtime/session.ts';
import { DataType, decodeModel, encodeModel } from '../qdq/onnx-tensors.ts';
import { addToHistogram, DEFAULT_BINS, emptyHistogram, emptyRange, type AbsHistogram, type TensorRange, updateRange } from './histogram.ts';
import { type CalibrationMethod, chooseRange, DEFAULT_PERCENTILE } from './methods.ts';

/** Calibration input: NCHW float batches for the model's input. */
export type CalibrationBatches = Iterable<FloatTensor> | AsyncIterable<FloatTensor>;

/**
 * Runs an FP32 ONNX model with chosen intermediate tensors added as graph outputs, so their
 * values can be observed (the model's own nodes are unchanged).
 */
export class ActivationProbe {
  private constructor(
    private readonly session: ModelSession,
    private readonly inputName: string,
    readonly tensors: readonly string[],
  ) {}

  /** Opens a probe on `modelBytes` that returns `tensors` (an input name among them is echoed back). */
  static async open(modelBytes: Uint8Array, tensors: readonly string[]): Promise<ActivationProbe> {
    const m = decodeModel(modelBytes);
    const g = m.graph!;
    const inputs = new Set((g.input ?? []).map((i) => i.name));
    const have = new Set((g.output ?? []).map((o) => o.name));
    for (const t of tensors) {
      if (!have.has(t) && !inputs.has(t)) g.output = [...(g.output ?? []), { name: t, type: { tensorType: { elemType: DataType.FLOAT } } }];
    }
    // all optimisations off: fused nodes would hide the tensors we observe
    const session = await openSession(encodeModel(m), { provider: 'cpu', optimization: 'disabled' });
    return new ActivationProbe(session, session.inputNames[0], tensors);
  }

  /** The observed tensors' values for one batch. */
  async run(batch: FloatTensor): Promise<Map<string, Float32Array>> {
    const out = await this.session.run({ [this.inputName]: batch });
    return new Map(this.tensors.map((t) => [t, t === this.inputName ? batch.data : out[t].data]));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Pass 1: each tensor's min and max over the batches. */
export async function collectRanges(probe: ActivationProbe, batches: CalibrationBatches): Promise<Map<string, TensorRange>> {
  const ranges = new Map(probe.tensors.map((t) => [t, emptyRange()]));
  for await (const b of batches) for (const [t, v] of await probe.run(b)) updateRange(ranges.get(t)!, v);
  return ranges;
}

/**
 * Pass 2: each tensor's |x| histogram over fixed edges [0, hi[t]] — hi comes from pass 1,
 * here or, federated, from the coordinator's merged ranges.
 */
export async function collectHistograms(probe: ActivationProbe, batches: CalibrationBatches, hi: Map<string, number>, bins = DEFAULT_BINS): Promise<Map<string, AbsHistogram>> {
  const hists = new Map(probe.tensors.map((t) => [t, emptyHistogram(hi.get(t) ?? 0, bins)]));
  for await (const b of batches) for (const [t, v] of await probe.run(b)) addToHistogram(hists.get(t)!, v);
  return hists;
}

/** The fixed histogram edge of each tensor: max |x| of its range. */
export function histogramEdges(ranges: Map<string, TensorRange>): Map<string, number> {
  return new Map([...ranges].map(([t, r]) => [t, Math.max(Math.abs(r.min), Math.abs(r.max), 0)]));
}

/** Options of calibrate(). */
export interface CalibrateOptions {
  method: CalibrationMethod;
  percentile?: number;
  bins?: number;
}

/** Picks every tensor's range with `method` from pass-1 ranges and (unless minmax) pass-2 histograms. */
export function chooseRanges(o: CalibrateOptions, ranges: Map<string, TensorRange>, hists?: Map<string, AbsHistogram>): Map<string, TensorRange> {
  return new Map([...ranges].map(([t, r]) => [t, chooseRange(o.method, r, hists?.get(t), o.percentile ?? DEFAULT_PERCENTILE)]));
}

/**
 * Single-machine calibration: observes `tensors` of an FP32 model on the batches (twice
 * unless minmax; `batches` must be re-iterable) and returns each tensor's range.
 */
export async function calibrate(modelBytes: Uint8Array, tensors: readonly string[], batches: Iterable<FloatTensor>, o: CalibrateOptions): Promise<Map<string, TensorRange>> {
  const probe = await ActivationProbe.open(modelBytes, tensors);
  try {
    const ranges = await collectRanges(probe, batches);
    if (o.method === 'minmax') return chooseRanges(o, ranges);
    const hists = await collectHistograms(probe, batches, histogramEdges(ranges), o.bins);
    return chooseRanges(o, ranges, hists);
  } finally {
    await probe.release();
  }
}
