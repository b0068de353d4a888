import { mkdirSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import { encodeDicomGrey } from './dicom/write.ts';
import { PreprocessPool } from './pool.ts';
import { parsePreprocess, type PreprocessInput } from './preprocess/config.ts';

/** Image side of the benchmark folder (issue 3: 512×512 16-bit DICOMs). */
export const BENCH_IMAGE_SIZE = 512;

/** Writes `count` 512×512 16-bit (12 bits stored) DICOMs of smooth noisy content, with a VOI window, seeded. */
export async function writeBenchFolder(dir: string, count: number, seed = 1): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const n = BENCH_IMAGE_SIZE;
  for (let k = 0; k < count; k++) {
    const samples = new Uint16Array(n * n);
    const fx = rng.uniform(2, 8);
    const fy = rng.uniform(2, 8);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const v = 2048 + 1200 * Math.sin((fx * x) / n) * Math.cos((fy * y) / n) + 200 * (rng.next() - 0.5);
        samples[y * n + x] = Math.max(0, Math.min(4095, Math.round(v)));
      }
    }
    const file = encodeDicomGrey({
      rows: n, columns: n, bitsAllocated: 16, bitsStored: 12, signed: false, samples,
      sopInstanceUid: `1.2.826.0.1.3680043.10.1234.2.${seed}.${k + 1}`, modality: 'CR',
      pixelSpacing: [0.7, 0.7], window: { center: 2048, width: 4096 },
    });
    await writeFile(path.join(dir, `img${String(k).padStart(5, '0')}.dcm`), file);
  }
}

/** The figures of one throughput run. */
export interface DataThroughput {
  images: number;
  seconds: number;
  imagesPerSecond: number;
  workers: number;
  outputSize: number;
  /** CPU seconds (all threads) per image: the fair figure when other work shares the cores. */
  cpuSecondsPerImage: number;
}

/**
 * Decodes and preprocesses every `.dcm` file of `dir` (to `cfg`'s tensors) on a pool of worker
 * threads and times it. One warm-up image per worker runs first (thread start, codec load).
 */
export async function measureDataThroughput(dir: string, cfg: PreprocessInput, workers: number): Promise<DataThroughput> {
  const files = readdirSync(dir).filter((f) => f.toLowerCase().endsWith('.dcm')).sort().map((f) => path.join(dir, f));
  if (files.length === 0) throw new UserError(`${dir}: no .dcm files to benchmark`);
  const config = parsePreprocess(cfg);
  const pool = new PreprocessPool(workers);
  try {
    await Promise.all(Array.from({ length: pool.size }, (_, i) => pool.run(files[i % files.length], null, config)));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(files.map((f) => pool.run(f, null, config)));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      images: files.length,
      seconds,
      imagesPerSecond: files.length / seconds,
      workers: pool.size,
      outputSize: config.size,
      cpuSecondsPerImage: (cpu.user + cpu.system) / 1e6 / files.length,
    };
  } finally {
    await pool.close();
  }
}
