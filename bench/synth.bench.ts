// Synthetic federation figures (issue 3 §4): how fast `fedkd synth` writes the default
// federation, and how learnable it is: test AUC of the small reference CNN (cnn-s) trained
// on all sites pooled, which the issue wants in [0.85, 0.97]. One JSON line per figure.
// Generation is timed twice: on the main thread alone (workers: 1, 'generation-1-worker') and
// with the default worker threads ('generation'); both write the same bytes.
// FEDKD_BENCH_SYNTH_SEEDS=0,1,2 repeats the AUC figure for several federations.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDataset, type Dataset } from '../data/index.ts';
import { synthesizeFederation, type FederationManifest } from '../data/synth/federation.ts';
import { autoWorkers } from '../data/synth/synth-pool.ts';
import { initBackend } from '../engine/backend.ts';
import { evaluate } from '../train/evaluate.ts';
import { aucMannWhitney } from '../train/metrics.ts';
import { trainClassifier } from '../train/recipes.ts';
import { predictLogits } from '../train/classification.ts';

/** The target range for the pooled test AUC. */
const AUC_TARGET: [number, number] = [0.85, 0.97];
const DEFAULTS = { sites: 4, imagesPerSite: 80, size: 128, largeFactor: 3, testFraction: 0.25 };
const INPUT = 64;
const EPOCHS = 30;

function emit(figure: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  const load = Number(os.loadavg()[0].toFixed(2));
  process.stdout.write(`${JSON.stringify({ bench: 'synth', figure, value: Number(value.toPrecision(6)), unit, ...extra, loadavg1: load, cores: os.cpus().length })}\n`);
}

/** Concatenates datasets of one size and channel count. */
function pool(sets: Dataset[]): { n: number; size: number; channels: number; x: Float32Array; labels: Int32Array } {
  const n = sets.reduce((a, s) => a + s.n, 0);
  const x = new Float32Array(sets.reduce((a, s) => a + s.x.length, 0));
  const labels = new Int32Array(n);
  let xo = 0;
  let lo = 0;
  for (const s of sets) {
    x.set(s.x, xo);
    labels.set(s.labels, lo);
    xo += s.x.length;
    lo += s.n;
  }
  return { n, size: sets[0].size, channels: sets[0].channels, x, labels };
}

/** Writes the default federation into `out` with `workers` threads (undefined: the default) and emits its speed. */
async function timeGeneration(out: string, seed: number, workers: number | undefined): Promise<FederationManifest> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const manifest = await synthesizeFederation({ ...DEFAULTS, out, seed, force: true, workers });
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(c0);
  const cpu = (used.user + used.system) / 1e6;
  const images = manifest.sites.reduce((a, s) => a + s.train.images + s.test.images, 0);
  const threads = workers ?? autoWorkers(images);
  const figure = workers === undefined ? 'generation' : `generation-${workers}-worker`;
  emit(figure, images / wall, 'images/s', { seed, images, workers: threads, wallS: Number(wall.toFixed(2)), cpuS: Number(cpu.toFixed(2)), size: DEFAULTS.size });
  return manifest;
}

async function benchSeed(seed: number): Promise<void> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fedkd-bench-synth-'));
  try {
    await timeGeneration(out, seed, 1);
    const manifest = await timeGeneration(out, seed, undefined);
    const pre = { size: INPUT, normalize: 'zscore' as const };
    const trains: Dataset[] = [];
    const tests: Dataset[] = [];
    for (const s of manifest.sites) {
      trains.push(await loadDataset(path.join(out, s.name, 'train'), pre, { noCache: true }));
      tests.push(await loadDataset(path.join(out, s.name, 'test'), pre, { noCache: true }));
    }
    const t1 = performance.now();
    const { model } = await trainClassifier({ train: pool(trains), recipe: { arch: 'cnn-s', epochs: EPOCHS, batchSize: 32, lr: 2e-3, seed: 0 } });
    const trainS = (performance.now() - t1) / 1000;
    const test = pool(tests);
    const auc = evaluate(model, test).auc;
    const perSite = tests.map((t) => {
      const logits = predictLogits(model, t, 64);
      const score = Array.from({ length: t.n }, (_, i) => logits[2 * i + 1] - logits[2 * i]);
      return Number(aucMannWhitney(score, t.labels).toFixed(3));
    });
    emit('pooled-test-auc', auc, 'AUC', { seed, arch: 'cnn-s', input: INPUT, epochs: EPOCHS, trainImages: pool(trains).n, testImages: test.n, perSite, target: AUC_TARGET, inTarget: auc >= AUC_TARGET[0] && auc <= AUC_TARGET[1], trainS: Number(trainS.toFixed(1)) });
    model.dispose();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

await initBackend();
const seeds = (process.env.FEDKD_BENCH_SYNTH_SEEDS ?? '0').split(',').map(Number);
for (const seed of seeds) await benchSeed(seed);
