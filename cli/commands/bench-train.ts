import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { initBackend } from '../../engine/backend.ts';
import { measureTrainingThroughput } from '../../engine/throughput.ts';
import { ARCHS, buildModel } from '../../models/index.ts';
import { oneOf, positiveInt, printJson } from '../run.ts';

/** The `fedkd bench train --json` line. */
export interface TrainBenchResult {
  arch: string;
  size: number;
  batch: number;
  backend: string;
  /** Worker-thread replicas (data parallelism); 1 = this thread alone. */
  replicas: number;
  imagesPerSecond: number;
  peakRssMB: number;
  /** CPU seconds (all threads) per image: the fair figure when other work shares the cores. */
  cpuSecondsPerImage: number;
}

/** Builds the architecture, trains it on random data after a warm-up and returns the figures. */
export async function benchTrain(o: { arch: string; size: number; batch: number; backend?: string; seconds?: number; replicas?: number }): Promise<TrainBenchResult> {
  if (o.batch % (o.replicas ?? 1) !== 0) throw new UserError(`--batch ${o.batch} must split evenly over --replicas ${o.replicas}`);
  const choice = await initBackend(o.backend);
  const model = buildModel(o.arch, { inputSize: o.size, inputChannels: 1, numClasses: 2 });
  const r = await measureTrainingThroughput(model, {
    batch: o.batch,
    task: o.arch === 'unet-s' ? 'segmentation' : 'classification',
    minTimedMs: (o.seconds ?? 3) * 1000,
    replicas: o.replicas ?? 1,
  });
  if (!Number.isFinite(r.lastLoss)) throw new Error(`training ${o.arch} on ${choice.name} produced a non-finite loss`);
  model.dispose();
  return {
    arch: o.arch,
    size: o.size,
    batch: o.batch,
    backend: choice.name,
    replicas: o.replicas ?? 1,
    imagesPerSecond: Math.round(r.imagesPerSecond * 10) / 10,
    peakRssMB: r.peakRssMB,
    cpuSecondsPerImage: Number(r.cpuSecondsPerImage.toPrecision(3)),
  };
}

/** `fedkd bench train`: training speed (images/s) of a reference model on random data. */
export function register(bench: Command): void {
  bench
    .command('train')
    .description('training speed of a reference model on random data (Adam, after a warm-up)')
    .option('--arch <arch>', `architecture: ${ARCHS.join(', ')}`, oneOf(ARCHS), 'mobile-s')
    .option('--size <n>', 'input height and width', positiveInt, 64)
    .option('--batch <n>', 'batch size', positiveInt, 32)
    .option('--backend <name>', 'tfjs backend (default: the ladder, or FEDKD_BACKEND)')
    .option('--seconds <n>', 'minimum timed seconds', positiveInt, 3)
    .option('--replicas <n>', 'data-parallel worker threads (1 = train in this thread)', positiveInt, 1)
    .option('--json', 'print one JSON line')
    .action(async (opts: { arch: string; size: number; batch: number; backend?: string; seconds: number; replicas: number; json?: boolean }) => {
      const r = await benchTrain(opts);
      if (opts.json) printJson(r);
      else process.stdout.write(`${r.arch} ${r.size}x${r.size} batch ${r.batch} on ${r.backend} x${r.replicas}: ${r.imagesPerSecond} images/s, peak RSS ${r.peakRssMB} MB\n`);
    });
}
