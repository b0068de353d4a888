// Seconds per training epoch of the mask decoder, decoder-only on cached embeddings against the
// encoder fine-tuned with it on the images (issue 9 §7), for bench/decoder.bench.ts.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../core/rng.ts';
import { buildMaskDecoder, DECODER_BOX_INPUT } from '../models/mask-decoder.ts';
import { boxOfMask, rasterizeBox } from '../train/box-prompt.ts';
import { decoderSet, float32Source, type EmbeddingSource } from '../train/decoder-data.ts';
import { fewShotAugment } from '../train/few-shot-decoder.ts';
import { trainMaskDecoder } from '../train/mask-decoder-train.ts';
import { LocalOptimizer } from '../train/optimizer.ts';
import { diceBceLoss } from '../train/segmentation.ts';
import type { ImageSet } from '../train/types.ts';
import { trainableVariables } from '../train/weights.ts';

/** Median epoch seconds of both paths, every timed epoch, and the load average when timing ended. */
export interface EpochTiming {
  decoderOnly: number;
  encoderDecoder: number;
  decoderOnlyEpochs: number[];
  encoderDecoderEpochs: number[];
  /** os.loadavg() (1, 5, 15 minutes) after the last epoch: others share the cores. */
  loadavg: number[];
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The encoder's maps of `rows` of `set`, as an embedding source (the embed step's output, in memory as float32). */
function embeddedRows(encoder: tf.LayersModel, set: ImageSet, rows: readonly number[]): EmbeddingSource {
  const s = set.size;
  const [h, w, c] = encoder.outputs[0].shape.slice(1) as number[];
  const maps = new Map<number, Float32Array>();
  for (const r of rows) {
    const y = tf.tidy(() => encoder.predict(tf.tensor4d(set.x.subarray(r * s * s, (r + 1) * s * s), [1, s, s, 1])) as tf.Tensor);
    maps.set(r, y.dataSync() as Float32Array);
    y.dispose();
  }
  const header = { key: 'timing', encoderSha256: '', preprocess: null, n: set.n, height: h, width: w, channels: c, imageSize: s, files: [], labels: [], hasMasks: true };
  return { header, masks: set.masks, row: (i: number) => (maps.get(i) as Float32Array).slice() };
}

/** One training epoch of encoder + decoder over `rows` in batches of `batch` (no augmentation: the cheaper side of the comparison). */
function encoderDecoderEpoch(full: tf.LayersModel, vars: tf.Variable[], opt: LocalOptimizer, set: ImageSet, rows: number[], batch: number): number {
  const s = set.size;
  const masks = set.masks as Float32Array;
  const t0 = performance.now();
  for (let i = 0; i < rows.length; i += batch) {
    const picks = rows.slice(i, i + batch);
    const x = new Float32Array(picks.length * s * s);
    const m = new Float32Array(picks.length * s * s);
    const b = new Float32Array(picks.length * s * s);
    picks.forEach((r, j) => {
      x.set(set.x.subarray(r * s * s, (r + 1) * s * s), j * s * s);
      m.set(masks.subarray(r * s * s, (r + 1) * s * s), j * s * s);
      rasterizeBox(boxOfMask(masks, s, r * s * s)!, s, b, j * s * s);
    });
    const loss = tf.tidy(() => {
      const [xt, mt, bt] = [x, m, b].map((a) => tf.tensor4d(a, [picks.length, s, s, 1]));
      const { value, grads } = tf.variableGrads(() => diceBceLoss(full.apply([xt, bt], { training: true }) as tf.Tensor4D, mt), vars);
      opt.step(vars.map((v) => grads[v.name]), 1e-3);
      return value;
    });
    loss.dataSync();
    loss.dispose();
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Seconds per training epoch on the same prompted `rows` of `set`, batch `batch`: the decoder
 * alone through trainMaskDecoder on the maps cached as float32 (with the few-shot augmentation),
 * against `encoder` + the same decoder on the images. Epochs of the two alternate (after one
 * warm-up epoch each) so both see the same load; the medians of `epochs` epochs are returned.
 */
export async function timeEpochs(encoder: tf.LayersModel, set: ImageSet, rows: number[], batch: number, epochs: number): Promise<EpochTiming> {
  const [h, , c] = encoder.outputs[0].shape.slice(1) as number[];
  const s = set.size;
  const shots = decoderSet(float32Source(embeddedRows(encoder, set, rows), rows), rows);
  const decoder = buildMaskDecoder({ embedSize: h, embedChannels: c, imageSize: s });
  const image = tf.input({ name: 'image', shape: [s, s, 1] });
  const box = tf.input({ name: DECODER_BOX_INPUT, shape: [s, s, 1] });
  const second = buildMaskDecoder({ embedSize: h, embedChannels: c, imageSize: s });
  const full = tf.model({ inputs: [image, box], outputs: second.apply([encoder.apply(image) as tf.SymbolicTensor, box]) as tf.SymbolicTensor });
  const vars = trainableVariables(full);
  const opt = new LocalOptimizer(vars, { kind: 'adam' });
  const rng = new Rng(3);
  const decoderOnlyEpochs: number[] = [];
  const encoderDecoderEpochs: number[] = [];
  for (let e = 0; e <= epochs; e++) {
    const r = await trainMaskDecoder({ model: decoder, train: shots, config: { epochs: 1, batchSize: batch, lr: 1e-3, seed: e, augment: fewShotAugment(s), label: 'timing, decoder only' } });
    const full1 = encoderDecoderEpoch(full, vars, opt, set, rng.shuffle([...rows]), batch);
    if (e === 0) continue; // warm-up: kernels compiled, buffers allocated
    decoderOnlyEpochs.push(r.history[0].seconds);
    encoderDecoderEpochs.push(full1);
  }
  opt.dispose();
  decoder.dispose();
  return { decoderOnly: median(decoderOnlyEpochs), encoderDecoder: median(encoderDecoderEpochs), decoderOnlyEpochs, encoderDecoderEpochs, loadavg: os.loadavg() };
}
