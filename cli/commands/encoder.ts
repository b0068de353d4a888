import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import type { PreprocessInput } from '../../data/index.ts';
import { initBackend } from '../../engine/backend.ts';
import { countParams } from '../../models/index.ts';
import { encoderOf, SEGMENTER_SPECS, SEGMENTERS, type SegmenterArch } from '../../models/encoder.ts';
import { exportOnnx } from '../../quantize/export/index.ts';
import { verifyExport } from '../../quantize/export/verify.ts';
import { segmentationTask } from '../../train/segmentation.ts';
import { DEFAULT_SEGMENTER, trainSegmenter } from '../../train/segmenter.ts';
import { loadSitePart } from '../../train/site-data.ts';
import { pool } from '../../train/split.ts';
import { numberIn, oneOf, positiveInt, printJson } from '../run.ts';

interface EncoderFlags {
  data: string[];
  arch: SegmenterArch;
  out: string;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  size: number;
  window: 'file' | 'auto' | 'minmax' | 'lung' | 'mediastinum' | 'bone';
  normalize: 'unit' | 'zscore';
  patience?: number;
  augment: boolean;
  json?: boolean;
}

/** What `fedkd encoder train` writes beside the ONNX file (`<out>.json`); embed and finetune-decoder read `preprocess`. */
export interface EncoderReport {
  onnx: string;
  arch: SegmenterArch;
  outputLayer: string;
  /** One image's embedding map, [h, w, c]. */
  embedShape: number[];
  encoderParams: number;
  segmenterParams: number;
  preprocess: PreprocessInput;
  trainImages: number;
  epochs: number;
  bestEpoch: number;
  /** Dice of the whole segmentation teacher (encoder + its own decoder). */
  valDice?: number;
  testDice?: number;
  exportMaxAbsDiff: number;
  backend: string;
  seconds: number;
}

/**
 * `fedkd encoder train --data SITE… --out enc.onnx`: trains a segmentation teacher (unet-l by
 * default, `--arch unet-s` for a small one) on the pooled masks of several sites and exports its
 * encoder half (input → embedding map) to ONNX, checked against tfjs in ONNX Runtime: the
 * frozen encoder of `fedkd embed` and `fedkd finetune-decoder`.
 */
export function register(program: Command): void {
  const encoder = program.command('encoder').description('image encoders for mask-decoder fine-tuning');
  encoder
    .command('train')
    .description('train a segmentation teacher (unet-l) on pooled site masks and export its encoder half to ONNX')
    .requiredOption('--data <dirs...>', 'site folders (train/ and test/, masks in labels.csv) or dataset folders')
    .requiredOption('--out <file>', 'the encoder ONNX file (a report goes to <file>.json)')
    .option('--arch <name>', `segmentation network: ${SEGMENTERS.map((a) => `${a} = ${SEGMENTER_SPECS[a].description}`).join('; ')}`, oneOf(SEGMENTERS), DEFAULT_SEGMENTER.arch)
    .option('--epochs <n>', 'epochs', positiveInt, DEFAULT_SEGMENTER.epochs)
    .option('--batch-size <n>', 'images per step', positiveInt, DEFAULT_SEGMENTER.batchSize)
    .option('--lr <x>', 'peak learning rate', numberIn(1e-7, 10), DEFAULT_SEGMENTER.lr)
    .option('--seed <n>', 'seed of weights, split and augmentation', (v) => (v === '0' ? 0 : positiveInt(v)), 0)
    .option('--patience <n>', 'early stopping: epochs without a better validation Dice', positiveInt)
    .option('--no-augment', 'turn off augmentation')
    .option('--size <px>', 'model input size (divisible by 4)', positiveInt, 64)
    .option('--window <w>', 'VOI window', oneOf(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone'] as const), 'file')
    .option('--normalize <n>', 'unit or zscore', oneOf(['unit', 'zscore'] as const), 'zscore')
    .option('--json', 'print a one-line JSON summary')
    .action(async (f: EncoderFlags) => {
      const t0 = performance.now();
      const backend = (await initBackend()).name;
      const preprocess: PreprocessInput = { size: f.size, channels: 1, window: f.window, normalize: f.normalize };
      const trains = await Promise.all(f.data.map((d) => loadSitePart(d, 'train', preprocess)));
      const tests = (await Promise.all(f.data.map((d) => loadSitePart(d, 'test', preprocess)))).filter((t) => t !== undefined);
      const train = pool(trains.filter((t) => t !== undefined));
      if (!train.masks) throw new UserError('the training data have no masks (labels.csv needs a mask column)');
      info(`encoder: ${f.arch} on ${train.n} images from ${f.data.length} site(s), ${train.size}px, on ${backend}`);
      const { model, result } = await trainSegmenter(train, { arch: f.arch, epochs: f.epochs, batchSize: f.batchSize, lr: f.lr, seed: f.seed, patience: f.patience, augment: f.augment });
      const enc = encoderOf(model);
      const bytes = exportOnnx(enc);
      const check = await verifyExport(enc, bytes);
      if (!check.ok) throw new UserError(`the exported encoder disagrees with tfjs by ${check.maxAbsDiff.toExponential(2)}`);
      await writeFileAtomic(f.out, bytes);
      const test = tests.length ? pool(tests) : undefined;
      const report: EncoderReport = {
        onnx: path.resolve(f.out),
        arch: f.arch,
        outputLayer: SEGMENTER_SPECS[f.arch].encoderOutput,
        embedShape: enc.outputs[0].shape.slice(1) as number[],
        encoderParams: countParams(enc).total,
        segmenterParams: countParams(model).total,
        preprocess,
        trainImages: train.n,
        epochs: result.metrics.epochs,
        bestEpoch: result.metrics.bestEpoch,
        valDice: result.metrics.val?.dice,
        testDice: test?.masks ? segmentationTask().evaluate(model, test, 32).dice : undefined,
        exportMaxAbsDiff: check.maxAbsDiff,
        backend,
        seconds: (performance.now() - t0) / 1000,
      };
      await writeFileAtomic(`${f.out}.json`, `${JSON.stringify(report, null, 1)}\n`);
      info(`encoder: embeddings ${report.embedShape.join('x')}, segmenter test Dice ${report.testDice?.toFixed(3) ?? 'n/a'}, wrote ${f.out} (${bytes.length} bytes)`);
      if (f.json) printJson(report);
    });
}
