// Few-shot mask-decoder fine-tuning on cached embeddings (issue 9 §7) on the synthetic federation:
// an encoder (unet-s's encoder half) trained on the masks of site-a and site-b and exported to
// ONNX; site-c's images embedded once; a box-prompted decoder fine-tuned on 5, 10 and 20 of
// site-c's images and scored (Dice, IoU) on site-c's held-out test split; seconds per training
// epoch decoder-only on the cached embeddings against encoder + decoder on the images; the box
// alone (the untrained decoder) as the baseline; the
// memory planner's peak estimate against the measured peak. One JSON line per figure on stdout.
// Knobs (environment): DEC_BENCH_DIR, DEC_IMAGES_PER_SITE (100), DEC_SIZE (64), DEC_ENCODER_EPOCHS (20),
// DEC_EPOCHS (100), DEC_SEEDS (2: few-shot draws per shot count), DEC_TIMING_EPOCHS (2), DEC_TIMING_WIDTHS (1,4),
// DEC_LOOSE_PX (3: test boxes also scored loosened by up to this many pixels). The encoder is reused from DEC_BENCH_DIR.
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { info } from '../core/log.ts';
import { Rng } from '../core/rng.ts';
import { loadDataset, type PreprocessInput } from '../data/index.ts';
import { synthesizeFederation } from '../data/synth/federation.ts';
import { embedDataset } from '../distill/embeddings.ts';
import { initBackend } from '../engine/backend.ts';
import { encoderOf } from '../models/encoder.ts';
import { buildModel, countMacs, countParams } from '../models/index.ts';
import { buildMaskDecoder, DECODER_BOX_INPUT } from '../models/mask-decoder.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { boxOfMask, rasterizeBox } from '../train/box-prompt.ts';
import { decoderSet, type DecoderSet } from '../train/decoder-data.ts';
import { evaluateDecoder, trainMaskDecoder } from '../train/mask-decoder-train.ts';
import { fewShotAugment, finetuneDecoder, type FewShotResult } from '../train/few-shot-decoder.ts';
import { LocalOptimizer } from '../train/optimizer.ts';
import { diceBceLoss, segmentationTask } from '../train/segmentation.ts';
import { trainSegmenter } from '../train/segmenter.ts';
import { loadSitePart } from '../train/site-data.ts';
import { pool } from '../train/split.ts';
import { trainableVariables } from '../train/weights.ts';

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const IMAGES = env('DEC_IMAGES_PER_SITE', 100);
const SIZE = env('DEC_SIZE', 64);
const ENCODER_EPOCHS = env('DEC_ENCODER_EPOCHS', 20);
const EPOCHS = env('DEC_EPOCHS', 100);
const SEEDS = env('DEC_SEEDS', 2);
const TIMING_EPOCHS = env('DEC_TIMING_EPOCHS', 2);
/** Encoder width multipliers timed (1: the trained encoder; 4: 256-channel maps, as SAM's). */
const TIMING_WIDTHS = (process.env.DEC_TIMING_WIDTHS ?? '1,4').split(',').map(Number);
const WORK = process.env.DEC_BENCH_DIR ?? path.join(os.tmpdir(), `fedkd-decoder-bench-${IMAGES}-${SIZE}`);
/** The target: decoder-only epochs at least 10× faster than encoder + decoder ones. */
const SPEEDUP_TARGET = 10;
/** The target: the memory estimate within ±20% of the measured peak. */
const MEMORY_TOLERANCE = 0.2;
const BATCH = 2;
/** Test boxes loosened as a user's would be: each edge moved by up to DEC_LOOSE_PX pixels (seeded). */
const LOOSE = { jitterPx: env('DEC_LOOSE_PX', 3), seed: 7 };

function emit(figure: string, value: number, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: 'decoder', figure, value: Number(value.toPrecision(6)), ...extra })}\n`);
}

/** The encoder: unet-s trained on site-a and site-b masks, its encoder half exported to ONNX (cached in WORK). */
async function encoder(fed: string, pre: PreprocessInput): Promise<void> {
  const sites = ['site-a', 'site-b'].map((s) => path.join(fed, s));
  const train = pool(await Promise.all(sites.map(async (s) => (await loadSitePart(s, 'train', pre))!)));
  const test = pool(await Promise.all(sites.map(async (s) => (await loadSitePart(s, 'test', pre))!)));
  const t0 = performance.now();
  const { model } = await trainSegmenter(train, { epochs: ENCODER_EPOCHS, seed: 1, label: 'encoder' });
  emit('segmenter_test_dice', segmentationTask().evaluate(model, test, 32).dice ?? NaN, { sites: 'site-a+site-b', epochs: ENCODER_EPOCHS, seconds: (performance.now() - t0) / 1000 });
  const enc = encoderOf(model);
  const file = path.join(WORK, 'enc.onnx');
  writeFileSync(file, exportOnnx(enc));
  writeFileSync(`${file}.json`, JSON.stringify({ preprocess: pre }));
}

/** Mean seconds of a training epoch of encoder + the same decoder on the images of the shots (batch BATCH). */
async function encoderDecoderEpochSeconds(enc: tf.LayersModel, site: string, pre: PreprocessInput, rows: number[]): Promise<number> {
  const set = await loadDataset(path.join(site, 'train'), pre);
  const s = set.size;
  const embShape = enc.outputs[0].shape.slice(1) as number[];
  const decoder = buildMaskDecoder({ embedSize: embShape[0], embedChannels: embShape[2], imageSize: s });
  const image = tf.input({ name: 'image', shape: [s, s, 1] });
  const box = tf.input({ name: DECODER_BOX_INPUT, shape: [s, s, 1] });
  const full = tf.model({ inputs: [image, box], outputs: decoder.apply([enc.apply(image) as tf.SymbolicTensor, box]) as tf.SymbolicTensor });
  const vars = trainableVariables(full);
  const opt = new LocalOptimizer(vars, { kind: 'adam' });
  const rng = new Rng(3);
  const times: number[] = [];
  for (let epoch = 0; epoch < TIMING_EPOCHS + 1; epoch++) {
    const t0 = performance.now();
    const order = rng.shuffle([...rows]);
    for (let i = 0; i < order.length; i += BATCH) {
      const picks = order.slice(i, i + BATCH);
      const x = new Float32Array(picks.length * s * s);
      const m = new Float32Array(picks.length * s * s);
      const b = new Float32Array(picks.length * s * s);
      picks.forEach((r, j) => {
        x.set(set.x.subarray(r * s * s, (r + 1) * s * s), j * s * s);
        m.set(set.masks!.subarray(r * s * s, (r + 1) * s * s), j * s * s);
        rasterizeBox(boxOfMask(set.masks!, s, r * s * s)!, s, b, j * s * s);
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
    if (epoch > 0) times.push((performance.now() - t0) / 1000); // the first epoch warms the kernels
  }
  opt.dispose();
  return times.reduce((a, b) => a + b, 0) / times.length;
}

/** Mean seconds of a decoder-only training epoch (no validation) over `set`, the first (warm-up) epoch left out. */
async function decoderEpochSeconds(set: DecoderSet): Promise<number> {
  const h = set.source.header;
  const decoder = buildMaskDecoder({ embedSize: h.height, embedChannels: h.channels, imageSize: h.imageSize });
  const r = await trainMaskDecoder({ model: decoder, train: set, config: { epochs: TIMING_EPOCHS + 1, batchSize: BATCH, lr: 1e-3, seed: 0, augment: fewShotAugment(h.imageSize), label: 'timing' } });
  decoder.dispose();
  return r.history.slice(1).reduce((a, e) => a + e.seconds, 0) / TIMING_EPOCHS;
}

/**
 * Seconds per training epoch on the same shots, decoder-only on cached embeddings against
 * encoder + decoder on the images, for an encoder of width multiplier `width` (the cost does not
 * depend on the weights, so the encoders are timed untrained; the maps are random of their shape).
 */
async function timing(width: number, site: string, pre: PreprocessInput, shots: DecoderSet): Promise<void> {
  const enc = encoderOf(buildModel('unet-s', { inputSize: pre.size, inputChannels: 1, widthMultiplier: width, seed: 1 }));
  const [eh, , ec] = enc.outputs[0].shape.slice(1) as number[];
  const rng = new Rng(width);
  const maps = Float32Array.from({ length: eh * eh * ec }, () => Math.abs(rng.normal()));
  const source = { header: { ...shots.source.header, height: eh, width: eh, channels: ec }, masks: shots.source.masks, row: (): Float32Array => maps.slice() };
  const decoderOnly = await decoderEpochSeconds({ ...shots, source });
  const full = await encoderDecoderEpochSeconds(enc, site, pre, shots.rows);
  const extra = { encoderWidth: width, encoderParams: countParams(enc).total, encoderMacs: countMacs(enc), embedShape: [eh, eh, ec], shots: shots.rows.length, batch: BATCH };
  emit('epoch_seconds_decoder_only', decoderOnly, extra);
  emit('epoch_seconds_encoder_decoder', full, extra);
  emit('epoch_speedup', full / decoderOnly, { ...extra, target: SPEEDUP_TARGET, met: full / decoderOnly >= SPEEDUP_TARGET });
}

async function main(): Promise<void> {
  const backend = (await initBackend()).name;
  const fed = path.join(WORK, 'federation');
  if (!existsSync(path.join(fed, 'federation.json'))) {
    info(`decoder bench: synthesizing the federation in ${fed}`);
    await synthesizeFederation({ out: fed, sites: 3, imagesPerSite: IMAGES, size: 128, seed: 5, largeFactor: 1, testFraction: 0.25 });
  }
  const pre: PreprocessInput = { size: SIZE, channels: 1, window: 'file', normalize: 'zscore' };
  const file = path.join(WORK, 'enc.onnx');
  if (existsSync(file)) emit('encoder_reused', 1, { file, note: 'trained by an earlier run of this bench; delete it to retrain' });
  else await encoder(fed, pre);
  const site = path.join(fed, 'site-c');
  const t0 = performance.now();
  const train = await embedDataset(file, path.join(site, 'train'), pre, { stream: true, refresh: true });
  const test = await embedDataset(file, path.join(site, 'test'), pre, { stream: true, refresh: true });
  emit('embed_seconds', (performance.now() - t0) / 1000, { images: train.store.header.n + test.store.header.n, shape: [train.store.header.height, train.store.header.width, train.store.header.channels], backend });
  const h = train.store.header;
  const untrained = buildMaskDecoder({ embedSize: h.height, embedChannels: h.channels, imageSize: h.imageSize });
  const testSet = decoderSet(test.store.inMemory());
  const boxOnly = evaluateDecoder(untrained, testSet, 8);
  const boxLoose = evaluateDecoder(untrained, testSet, 8, LOOSE);
  emit('test_dice_box_only', boxOnly.dice, { iou: Number(boxOnly.iou.toFixed(4)), looseBoxDice: Number(boxLoose.dice.toFixed(4)), looseJitterPx: LOOSE.jitterPx, note: 'untrained decoder = its box prior: the prompt box filled', testImages: boxOnly.n });
  untrained.dispose();
  let twenty: FewShotResult | undefined;
  for (const shots of [5, 10, 20]) {
    const dices: number[] = [];
    const ious: number[] = [];
    const loose: number[] = [];
    for (let seed = 0; seed < SEEDS; seed++) {
      const r = await finetuneDecoder({
        trainStore: train.store,
        testStore: test.store,
        options: { shots, valImages: 10, epochs: EPOCHS, lr: 3e-3, seed, patience: 25, maxBatch: BATCH, memoryBudget: 8 * 2 ** 30 },
        label: `${shots} shots, seed ${seed}`,
      });
      dices.push(r.test?.dice ?? NaN);
      loose.push(evaluateDecoder(r.model, testSet, 8, LOOSE).dice);
      ious.push(r.test?.iou ?? NaN);
      info(`decoder bench: ${shots} shots seed ${seed}: test Dice ${r.test?.dice.toFixed(3)}, best epoch ${r.result.bestEpoch + 1}/${r.result.history.length}`);
      if (shots === 20 && seed === 0) twenty = r;
      else r.model.dispose();
    }
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
    emit(`test_dice_${shots}_shots`, mean(dices), { iou: Number(mean(ious).toFixed(4)), looseBoxDice: Number(mean(loose).toFixed(4)), looseJitterPx: LOOSE.jitterPx, perSeed: dices.map((d) => Number(d.toFixed(4))), testImages: boxOnly.n, site: 'site-c', backend });
  }
  const r = twenty!;
  const shotSet = decoderSet(train.store.inMemory(), r.shotRows);
  for (const width of TIMING_WIDTHS) await timing(width, site, pre, shotSet);
  const m = r.memory;
  const tensorRatio = m.estimate.tensorPeak / m.measured.tensorPeak;
  const rssRatio = m.estimate.total / m.measured.rssPeak;
  emit('memory_tensor_peak_estimate_bytes', m.estimate.tensorPeak, { measuredBytes: m.measured.tensorPeak, ratio: Number(tensorRatio.toFixed(3)), met: Math.abs(tensorRatio - 1) <= MEMORY_TOLERANCE });
  emit('memory_rss_peak_estimate_bytes', m.estimate.total, { measuredBytes: m.measured.rssPeak, ratio: Number(rssRatio.toFixed(3)), met: Math.abs(rssRatio - 1) <= MEMORY_TOLERANCE, caching: m.estimate.caching, batch: m.estimate.batchSize });
}

void main();
