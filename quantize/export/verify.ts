import * as tf from '@tensorflow/tfjs';
import { openSession } from '../../runtime/session.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from './index.ts';

/** The export bound of issue 2: ONNX Runtime vs tfjs, max abs difference (scaled up for logits larger than 1). */
export const EXPORT_TOLERANCE = 1e-4;

/** How an exported model compared with its tfjs original. */
export interface ExportCheck {
  /** max |ORT − tfjs| over the first output. */
  maxAbsDiff: number;
  /** max |tfjs| over the same values, for scale. */
  maxAbsOutput: number;
  /** maxAbsDiff ≤ EXPORT_TOLERANCE · max(1, maxAbsOutput). */
  ok: boolean;
}

/**
 * Runs an exported model in ONNX Runtime (CPU) and the tfjs model on the same seeded random
 * batch (standard normal, NHWC for tfjs, transposed to NCHW for ONNX) and compares the first
 * output (image outputs compared in NCHW).
 */
export async function verifyExport(model: tf.LayersModel, onnx: Uint8Array, batch = 2, seed = 1): Promise<ExportCheck> {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const [ref, nchw] = tf.tidy(() => {
    const x = tf.randomNormal([batch, ...shape], 0, 1, 'float32', seed);
    const y = model.predict(x) as tf.Tensor;
    const yRef = y.rank === 4 ? tf.transpose(y, [0, 3, 1, 2]) : y;
    return [yRef.dataSync() as Float32Array, { data: tf.transpose(x, [0, 3, 1, 2]).dataSync() as Float32Array, dims: [batch, shape[2], shape[0], shape[1]] }];
  });
  const session = await openSession(onnx, { provider: 'cpu' });
  try {
    const got = (await session.run({ [ONNX_INPUT]: nchw }))[ONNX_OUTPUT].data;
    if (got.length !== ref.length) return { maxAbsDiff: Infinity, maxAbsOutput: 0, ok: false };
    let maxAbsDiff = 0;
    let maxAbsOutput = 0;
    for (let i = 0; i < ref.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - ref[i]));
      maxAbsOutput = Math.max(maxAbsOutput, Math.abs(ref[i]));
    }
    return { maxAbsDiff, maxAbsOutput, ok: maxAbsDiff <= EXPORT_TOLERANCE * Math.max(1, maxAbsOutput) };
  } finally {
    await session.release();
  }
}
