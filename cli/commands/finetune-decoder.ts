import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { packTensors } from '../../core/tensors.ts';
import { decodeCount } from '../../data/index.ts';
import { embedDataset } from '../../distill/embeddings.ts';
import { initBackend } from '../../engine/backend.ts';
import { saveModel } from '../../models/index.ts';
import { finetuneDecoder, type MemoryReport } from '../../train/few-shot-decoder.ts';
import type { DecoderEpoch, DecoderMetrics } from '../../train/mask-decoder-train.ts';
import { formatBytes, parseBytes } from '../../train/memory-plan.ts';
import { numberIn, positiveInt, printJson } from '../run.ts';
import { embedParts, embedPreprocess, embedPreprocessFlags, type EmbedPreprocessFlags } from './embed.ts';

/** The decoder's weights as named tensors in --out: a federated run's `model.initialWeights`. */
export const DECODER_WEIGHTS = 'decoder.fkw';

interface FinetuneFlags extends EmbedPreprocessFlags {
  data: string;
  shots: number;
  out: string;
  val: number;
  epochs: number;
  lr: number;
  seed: number;
  patience?: number;
  batchSize?: number;
  maxBatch: number;
  memoryBudget: string;
  width: number;
  json?: boolean;
}

/** What `fedkd finetune-decoder` writes to `<out>/metrics.json` and prints with --json. */
export interface DecoderReport {
  out: string;
  encoder: string;
  shots: number;
  valImages: number;
  testImages: number;
  embedShape: number[];
  params: number;
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  val?: DecoderMetrics;
  test?: DecoderMetrics;
  /** Mean seconds of a training epoch (decoder only, cached embeddings). */
  epochSeconds: number;
  embeddingsComputed: boolean;
  /** Images decoded by this process: 0 when the embeddings were cached. */
  imagesDecoded: number;
  memory: MemoryReport & { budget: number };
  history: DecoderEpoch[];
  backend: string;
  seconds: number;
}

function memoryLine(m: MemoryReport): string {
  const e = m.estimate;
  return `memory: batch ${e.batchSize}, embeddings ${e.caching === 'memory' ? 'in memory' : 'streamed from disk'}; tensors estimated ${formatBytes(e.tensorPeak)}, measured ${formatBytes(m.measured.tensorPeak)} (tf.profile); total estimated ${formatBytes(e.total)}, measured RSS peak ${formatBytes(m.measured.rssPeak)}`;
}

/**
 * `fedkd finetune-decoder --encoder enc.onnx --data DIR --shots 20 --out dec/`: MedSAM-style
 * few-shot fine-tuning of a box-prompted mask decoder on the cached embeddings of a site
 * (computed first when missing; a cached run reads no image), validation each epoch, the best
 * decoder saved in --out (also as `decoder.fkw` named tensors), Dice/IoU on the site's test/ split and peak memory beside the planner's estimate.
 */
export function register(program: Command): void {
  const cmd = program
    .command('finetune-decoder')
    .description('few-shot fine-tuning of a box-prompted mask decoder on cached encoder embeddings')
    .requiredOption('--encoder <onnx>', 'ONNX encoder (e.g. from fedkd encoder train)')
    .requiredOption('--data <dir>', 'a site folder (train/ with masks; test/ is scored) or a dataset folder')
    .requiredOption('--out <dir>', 'folder for the best decoder (model.json, weights.bin) and metrics.json')
    .option('--shots <n>', 'labelled training images', positiveInt, 20)
    .option('--val <n>', 'other labelled images that validate each epoch', (v) => (v === '0' ? 0 : positiveInt(v)), 10)
    .option('--epochs <n>', 'epochs (fewer when early stopping fires)', positiveInt, 100)
    .option('--lr <x>', 'peak learning rate (Adam, cosine)', numberIn(1e-7, 1), 3e-3)
    .option('--seed <n>', 'seed of the shot draw, weights, order and augmentation', (v) => (v === '0' ? 0 : positiveInt(v)), 0)
    .option('--patience <n>', 'early stopping: epochs without a better validation Dice', positiveInt, 25)
    .option('--batch-size <n>', 'pairs per step (default: the memory planner picks)', positiveInt)
    .option('--max-batch <n>', 'largest batch size the planner may pick (small batches suit few shots)', positiveInt, 2)
    .option('--memory-budget <size>', 'memory the run may use, e.g. 8GB', '8GB')
    .option('--width <n>', 'channels of the decoder first stage', positiveInt, 32);
  embedPreprocessFlags(cmd)
    .option('--json', 'print a one-line JSON summary')
    .action(async (f: FinetuneFlags) => {
      const t0 = performance.now();
      const budget = parseBytes(f.memoryBudget);
      const backend = (await initBackend()).name;
      const preprocess = embedPreprocess(f);
      const parts = embedParts(f.data);
      const trainDir = parts.find((p) => p.part === 'train')?.dir;
      if (!trainDir) throw new UserError(`${f.data} has no training data`);
      const testDir = parts.find((p) => p.part === 'test')?.dir;
      const train = await embedDataset(f.encoder, trainDir, preprocess, { stream: true });
      const test = testDir ? await embedDataset(f.encoder, testDir, preprocess, { stream: true }) : undefined;
      const h = train.store.header;
      info(`finetune-decoder: ${f.shots} shots of ${trainDir}, embeddings ${h.height}x${h.width}x${h.channels} ${train.computed ? 'computed now' : 'from the cache'}, on ${backend}`);
      const run = await finetuneDecoder({
        trainStore: train.store,
        testStore: test?.store,
        options: { shots: f.shots, valImages: f.val, epochs: f.epochs, lr: f.lr, seed: f.seed, patience: f.patience, batchSize: f.batchSize, maxBatch: f.maxBatch, memoryBudget: budget, decoderWidth: f.width },
        onBest: async (model) => {
          await saveModel(model, f.out);
        },
      });
      const r = run.result;
      info(memoryLine(run.memory));
      const report: DecoderReport = {
        out: path.resolve(f.out),
        encoder: path.resolve(f.encoder),
        shots: f.shots,
        valImages: run.valRows.length,
        testImages: run.test?.n ?? 0,
        embedShape: [h.height, h.width, h.channels],
        params: run.model.countParams(),
        epochs: r.history.length,
        bestEpoch: r.bestEpoch,
        stoppedEarly: r.stoppedEarly,
        val: r.val,
        test: run.test,
        epochSeconds: r.history.reduce((s, e) => s + e.seconds, 0) / Math.max(1, r.history.length),
        embeddingsComputed: train.computed || Boolean(test?.computed),
        imagesDecoded: decodeCount(),
        memory: { ...run.memory, budget },
        history: r.history,
        backend,
        seconds: (performance.now() - t0) / 1000,
      };
      await saveModel(run.model, f.out);
      await writeFileAtomic(path.join(f.out, DECODER_WEIGHTS), packTensors(r.weights));
      await writeFileAtomic(path.join(f.out, 'metrics.json'), `${JSON.stringify(report, null, 1)}\n`);
      info(`finetune-decoder: best epoch ${r.bestEpoch + 1}, val Dice ${r.val?.dice.toFixed(3) ?? 'n/a'}, test Dice ${run.test?.dice.toFixed(3) ?? 'n/a'} IoU ${run.test?.iou.toFixed(3) ?? 'n/a'}, saved to ${f.out}`);
      if (f.json) printJson(report);
    });
}
