// Few-shot mask-decoder fine-tuning on cached embeddings (issue 9 §7) on the synthetic federation:
// an encoder (the encoder half of the segmentation teacher unet-l, or DEC_ENCODER_ARCH) trained on
// the masks of site-a and site-b and exported to ONNX; site-c's images embedded once; a box-prompted decoder fine-tuned on 5, 10 and 20 of
// site-c's images and scored (Dice, IoU) on site-c's held-out test split; seconds per training
// epoch decoder-only on the cached embeddings (float32 in memory, as finetune-decoder holds them)
// against encoder + decoder on the images, epochs of the two interleaved, median reported, the
// load average beside; the box alone (the untrained decoder) as the baseline; the
// memory planner's peak estimate against the measured peak. One JSON line per figure on stdout.
// Knobs (environment): DEC_BENCH_DIR, DEC_IMAGES_PER_SITE (100), DEC_SIZE (64), DEC_ENCODER_ARCH (unet-l),
// DEC_ENCODER_EPOCHS (20), DEC_EPOCHS (100), DEC_SEEDS (2: few-shot draws per shot count), DEC_TIMING_EPOCHS (5),
// DEC_TIMING_ENCODERS (unet-l,unet-s: encoders timed, `arch` or `arch*width`), DEC_LOOSE_PX (3: test boxes also
// scored loosened by up to this many pixels). The encoder is reused from DEC_BENCH_DIR (enc-<arch>.onnx).
import { existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { info } from '../core/log.ts';
import { loadDataset, type PreprocessInput } from '../data/index.ts';
import { synthesizeFederation } from '../data/synth/federation.ts';
import { embedDataset } from '../distill/embeddings.ts';
import { initBackend } from '../engine/backend.ts';
import { encoderOf, SEGMENTER_SPECS, type SegmenterArch } from '../models/encoder.ts';
import { countMacs, countParams, DEFAULT_MODEL_OPTIONS } from '../models/index.ts';
import { buildMaskDecoder } from '../models/mask-decoder.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { decoderSet } from '../train/decoder-data.ts';
import { evaluateDecoder } from '../train/mask-decoder-train.ts';
import { finetuneDecoder, type FewShotResult } from '../train/few-shot-decoder.ts';
import { segmentationTask } from '../train/segmentation.ts';
import { DEFAULT_SEGMENTER, trainSegmenter } from '../train/segmenter.ts';
import { timeEpochs } from './decoder-timing.ts';
import { loadSitePart } from '../train/site-data.ts';
import { pool } from '../train/split.ts';

const env = (k: string, d: number): number => (process.env[k] ? Number(process.env[k]) : d);
const IMAGES = env('DEC_IMAGES_PER_SITE', 100);
const SIZE = env('DEC_SIZE', 64);
const ENCODER_EPOCHS = env('DEC_ENCODER_EPOCHS', 20);
const EPOCHS = env('DEC_EPOCHS', 100);
const SEEDS = env('DEC_SEEDS', 2);
const TIMING_EPOCHS = env('DEC_TIMING_EPOCHS', 5);
/** The segmentation network whose encoder half the bench trains: the demo teacher by default. */
const ENCODER_ARCH = (process.env.DEC_ENCODER_ARCH ?? DEFAULT_SEGMENTER.arch) as SegmenterArch;
/** Encoders timed, `arch` or `arch*width` (the default teacher; the small unet-s for reference). */
const TIMING_ENCODERS = (process.env.DEC_TIMING_ENCODERS ?? 'unet-l,unet-s').split(',');
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

/** The encoder: ENCODER_ARCH trained on site-a and site-b masks, its encoder half exported to ONNX as `file`. */
async function encoder(fed: string, pre: PreprocessInput, file: string): Promise<void> {
  const sites = ['site-a', 'site-b'].map((s) => path.join(fed, s));
  const train = pool(await Promise.all(sites.map(async (s) => (await loadSitePart(s, 'train', pre))!)));
  const test = pool(await Promise.all(sites.map(async (s) => (await loadSitePart(s, 'test', pre))!)));
  const t0 = performance.now();
  const { model } = await trainSegmenter(train, { arch: ENCODER_ARCH, epochs: ENCODER_EPOCHS, seed: 1, label: `encoder (${ENCODER_ARCH})` });
  emit('segmenter_test_dice', segmentationTask().evaluate(model, test, 32).dice ?? NaN, { arch: ENCODER_ARCH, params: countParams(model).total, sites: 'site-a+site-b', epochs: ENCODER_EPOCHS, seconds: (performance.now() - t0) / 1000, loadavg: os.loadavg().map((v) => Number(v.toFixed(2))) });
  const enc = encoderOf(model);
  writeFileSync(file, exportOnnx(enc));
  writeFileSync(`${file}.json`, JSON.stringify({ preprocess: pre }));
  model.dispose(); // its tensors would count in the decoder runs' measured peaks
}

/**
 * Seconds per training epoch on the same shots, decoder-only on cached embeddings against
 * encoder + decoder on the images, for the encoder of `spec` (`arch` or `arch*width`; the cost
 * does not depend on the weights, so the encoders are timed untrained).
 */
async function timing(spec: string, site: string, pre: PreprocessInput, rows: number[]): Promise<void> {
  const [arch, width] = spec.split('*') as [SegmenterArch, string | undefined];
  const enc = encoderOf(SEGMENTER_SPECS[arch].build({ ...DEFAULT_MODEL_OPTIONS, inputSize: pre.size, inputChannels: 1, widthMultiplier: Number(width ?? 1), seed: 1 }));
  const set = await loadDataset(path.join(site, 'train'), pre);
  const t = await timeEpochs(enc, set, rows, BATCH, TIMING_EPOCHS);
  const round = (a: number[]): number[] => a.map((v) => Number(v.toFixed(3)));
  const extra = { encoder: spec, encoderParams: countParams(enc).total, encoderMacs: countMacs(enc), embedShape: enc.outputs[0].shape.slice(1), shots: rows.length, batch: BATCH, epochs: TIMING_EPOCHS, loadavg: round(t.loadavg) };
  emit('epoch_seconds_decoder_only', t.decoderOnly, { ...extra, perEpoch: round(t.decoderOnlyEpochs) });
  emit('epoch_seconds_encoder_decoder', t.encoderDecoder, { ...extra, perEpoch: round(t.encoderDecoderEpochs) });
  emit('epoch_speedup', t.encoderDecoder / t.decoderOnly, { ...extra, target: SPEEDUP_TARGET, met: t.encoderDecoder / t.decoderOnly >= SPEEDUP_TARGET });
}

async function main(): Promise<void> {
  const backend = (await initBackend()).name;
  const fed = path.join(WORK, 'federation');
  if (!existsSync(path.join(fed, 'federation.json'))) {
    info(`decoder bench: synthesizing the federation in ${fed}`);
    await synthesizeFederation({ out: fed, sites: 3, imagesPerSite: IMAGES, size: 128, seed: 5, largeFactor: 1, testFraction: 0.25 });
  }
  const pre: PreprocessInput = { size: SIZE, channels: 1, window: 'file', normalize: 'zscore' };
  const file = path.join(WORK, `enc-${ENCODER_ARCH}.onnx`);
  if (existsSync(file)) emit('encoder_reused', 1, { file, note: 'trained by an earlier run of this bench; delete it to retrain' });
  else await encoder(fed, pre, file);
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
  for (const spec of TIMING_ENCODERS) await timing(spec, site, pre, r.shotRows);
  const m = r.memory;
  const tensorRatio = m.estimate.tensorPeak / m.measured.tensorPeak;
  const rssRatio = m.estimate.total / m.measured.rssPeak;
  emit('memory_tensor_peak_estimate_bytes', m.estimate.tensorPeak, { measuredBytes: m.measured.tensorPeak, ratio: Number(tensorRatio.toFixed(3)), met: Math.abs(tensorRatio - 1) <= MEMORY_TOLERANCE });
  emit('memory_rss_peak_estimate_bytes', m.estimate.total, { measuredBytes: m.measured.rssPeak, ratio: Number(rssRatio.toFixed(3)), met: Math.abs(rssRatio - 1) <= MEMORY_TOLERANCE, caching: m.estimate.caching, batch: m.estimate.batchSize });
}

void main();
