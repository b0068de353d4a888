import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ARCHS, buildModel } from '../../models/index.ts';
import { BACKENDS, REL_TOL, onBackend, relError, seeded } from './compare.ts';

const SIZE = 16;
const BATCH = 2;

/** Loss and gradients of one training-mode forward/backward pass of a reference model. */
function lossAndGrads(arch: string, x: Float32Array): { loss: number; grads: Float32Array[] } {
  const model = buildModel(arch, { inputSize: SIZE, inputChannels: 1, numClasses: 2, seed: 7 });
  const out = tf.tidy(() => {
    const input = tf.tensor4d(x, [BATCH, SIZE, SIZE, 1]);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const lossOf = (y: tf.Tensor): tf.Scalar =>
      arch === 'unet-s'
        ? tf.losses.sigmoidCrossEntropy(tf.tensor(seeded(y.shape, 62).map((v) => (v > 0 ? 1 : 0)), y.shape), y)
        : tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 1], 'int32'), 2), y);
    const { value, grads } = tf.variableGrads(() => lossOf(model.apply(input, { training: true }) as tf.Tensor), vars);
    return { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
  });
  model.dispose();
  return out;
}

describe('every reference model: one training step on wasm matches cpu', () => {
  it.each(ARCHS)('%s', async (arch) => {
    const x = seeded([BATCH, SIZE, SIZE, 1], 61);
    const r: Record<string, { loss: number; grads: Float32Array[] }> = {};
    for (const b of BACKENDS) r[b] = await onBackend(b, () => lossAndGrads(arch, x));
    expect(Number.isFinite(r.cpu.loss)).toBe(true);
    expect(Math.abs(r.wasm.loss - r.cpu.loss) / Math.abs(r.cpu.loss)).toBeLessThan(REL_TOL);
    expect(r.wasm.grads.length).toBe(r.cpu.grads.length);
    r.cpu.grads.forEach((g, i) => expect(relError(r.wasm.grads[i], g), `gradient ${i} of ${arch}`).toBeLessThan(REL_TOL));
  });
});
