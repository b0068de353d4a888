import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../core/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { encoderOf, SEGMENTER_SPECS, UNET_ENCODER_OUTPUT } from '../../models/encoder.ts';
import { countMacs, countParams, DEFAULT_MODEL_OPTIONS } from '../../models/index.ts';
import { buildMaskDecoder } from '../../models/mask-decoder.ts';
import { buildUnetL, UNET_L_ENCODER_OUTPUT } from '../../models/unet-l.ts';
import { buildUnetS } from '../../models/unet-s.ts';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Weights of a k×k conv without bias, and of a BN layer (γ, β, moving mean and variance). */
const conv = (k: number, cin: number, cout: number): number => k * k * cin * cout;
const bn = (c: number): number => 4 * c;
const convBn = (k: number, cin: number, cout: number): number => conv(k, cin, cout) + bn(cout);

describe('unet-l (the demo segmentation teacher)', () => {
  const opts = { ...DEFAULT_MODEL_OPTIONS, inputSize: 32, seed: 3 };

  it('has the hand-counted parameters, nearly all in its encoder, over 10× the default mask decoder', () => {
    const m = buildUnetL(opts);
    const stem = convBn(3, 1, 32) + convBn(3, 32, 32) + convBn(3, 32, 64) + convBn(3, 64, 64);
    const block1 = convBn(3, 64, 128) + convBn(3, 128, 128) + convBn(1, 64, 128);
    const block = convBn(3, 128, 128) + convBn(3, 128, 128);
    const neck = convBn(1, 128, 128);
    const encoder = stem + block1 + 3 * block + neck;
    const decoderHalf = convBn(3, 128 + 64, 32) + convBn(3, 32 + 32, 16) + (16 + 1);
    expect(encoder).toBe(1_201_184);
    expect(countParams(encoderOf(m)).total).toBe(encoder);
    expect(countParams(m).total).toBe(encoder + decoderHalf);
    const decoder = buildMaskDecoder({ embedSize: 16, embedChannels: 128, imageSize: 64 });
    expect(encoder / countParams(decoder).total).toBeGreaterThan(10);
    // compute at 64 px: every multiply-add of the encoder's convs, by hand
    const big = encoderOf(buildUnetL({ ...opts, inputSize: 64 }));
    const macs = 64 * 64 * (conv(3, 1, 32) + conv(3, 32, 32)) + 32 * 32 * (conv(3, 32, 64) + conv(3, 64, 64)) + 16 * 16 * (conv(3, 64, 128) + conv(3, 128, 128) + conv(1, 64, 128) + 3 * 2 * conv(3, 128, 128) + conv(1, 128, 128));
    expect(countMacs(big)).toBe(macs);
    [m, decoder].forEach((x) => x.dispose());
  });

  it('returns one channel of mask logits at the input size; its encoder ends at the neck, [N, S/4, S/4, 128]', () => {
    const m = buildUnetL(opts);
    const x = tf.randomNormal([2, 32, 32, 1], 0, 1, 'float32', 1);
    const y = m.predict(x) as tf.Tensor;
    expect(y.shape).toEqual([2, 32, 32, 1]);
    const enc = encoderOf(m);
    expect(enc.outputs[0].shape).toEqual([null, 8, 8, 128]);
    // the encoder shares the teacher's weights: its output is the body layer's output inside the teacher
    const inner = tf.model({ inputs: m.inputs, outputs: m.getLayer(UNET_L_ENCODER_OUTPUT).output as tf.SymbolicTensor });
    const a = (enc.predict(x) as tf.Tensor).dataSync();
    const b = (inner.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(() => buildUnetL({ ...opts, inputSize: 30 })).toThrow(UserError);
    tf.dispose([x, y]);
  });

  it('one seed gives the same weights; the specs name each network’s encoder end', () => {
    const a = buildUnetL(opts).getWeights()[0].dataSync();
    const b = buildUnetL(opts).getWeights()[0].dataSync();
    const c = buildUnetL({ ...opts, seed: 4 }).getWeights()[0].dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(SEGMENTER_SPECS['unet-l'].encoderOutput).toBe(UNET_L_ENCODER_OUTPUT);
    expect(encoderOf(buildUnetS(opts)).outputs[0].shape).toEqual([null, 8, 8, 64]);
    expect(SEGMENTER_SPECS['unet-s'].encoderOutput).toBe(UNET_ENCODER_OUTPUT);
    expect(() => encoderOf(buildUnetL(opts), 'nope')).toThrow(/no layer 'nope'/);
  });
});
