import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { info } from '../../core/log.ts';
import { measureDataThroughput, writeBenchFolder } from '../../data/throughput.ts';
import { positiveInt, printJson } from '../run.ts';

/** `fedkd bench data`: decode + preprocess speed of 512×512 16-bit DICOMs to model tensors, on worker threads. */
export function register(bench: Command): void {
  bench
    .command('data')
    .description('decode and preprocess speed (images/s) of a folder of 512x512 16-bit DICOMs')
    .option('--dir <folder>', 'folder of .dcm files (default: generate one in a temporary folder)')
    .option('--count <n>', 'images to generate when no --dir is given', positiveInt, 400)
    .option('--size <n>', 'output tensor height and width', positiveInt, 128)
    .option('--workers <n>', 'worker threads (default: one per core)', positiveInt)
    .option('--json', 'print one JSON line')
    .action(async (opts: { dir?: string; count: number; size: number; workers?: number; json?: boolean }) => {
      const dir = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'fedkd-bench-data-')));
      try {
        if (!opts.dir) {
          info(`writing ${opts.count} 512x512 16-bit DICOMs to ${dir}`);
          await writeBenchFolder(dir, opts.count);
        }
        const r = await measureDataThroughput(dir, { size: opts.size }, opts.workers ?? availableParallelism());
        const out = { ...r, seconds: Number(r.seconds.toFixed(3)), imagesPerSecond: Math.round(r.imagesPerSecond * 10) / 10, cpuSecondsPerImage: Number(r.cpuSecondsPerImage.toPrecision(3)) };
        if (opts.json) printJson(out);
        else process.stdout.write(`${out.images} images to ${out.outputSize}x${out.outputSize} in ${out.seconds} s on ${out.workers} workers: ${out.imagesPerSecond} images/s (${out.cpuSecondsPerImage * 1000} ms CPU per image)\n`);
      } finally {
        if (!opts.dir) rmSync(dir, { recursive: true, force: true });
      }
    });
}
