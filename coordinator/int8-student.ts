import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../core/files.ts';
import { info } from '../core/log.ts';
import type * as tf from '@tensorflow/tfjs';
import { packTensors, unpackTensors, type NamedTensor } from '../core/tensors.ts';
import { initBackend } from '../engine/backend.ts';
import { buildModel, setNamedWeights } from '../models/index.ts';
import { exportOnnx } from '../quantize/export/index.ts';
import { measureLatencies } from '../quantize/latency.ts';
import { MIN_SPEEDUP } from '../quantize/mixed.ts';
import { quantizeWithRanges } from '../quantize/qdq/index.ts';
import type { CalibrationPhase } from './calibration-phase.ts';
import type { CoordinatorConfig } from './config.ts';

/** The folder under stateDir holding the final model as ONNX (a model-repository version folder). */
export const FINAL_ONNX_DIR = 'final-model';

/** One row of the coordinator's precision report (runtime/'s report shape; no AUC: the coordinator holds no images). */
export interface CoordinatorPrecisionRow {
  precision: 'fp32' | 'int8';
  fileBytes: number;
  sizeRatio: number;
  latencyMs: { batch1: number; batch32: number };
  speedupBatch32: number;
}

/** The coordinator's report.json: sizes, CPU latency and the chosen precision of the federated INT8 student. */
export interface CoordinatorPrecisionReport {
  /** The FP32 ONNX model; when calibration was skipped, the final weights file (`final-model.fkw`). */
  model: string;
  /** CHW of one input; empty when calibration was skipped (nothing was exported). */
  input: number[];
  /** 'written': model.int8.onnx is beside this report; 'skipped': no INT8 student (why: `calibration.skipped`). */
  int8: 'written' | 'skipped';
  calibration: { method: string; source: 'federated'; images: number; sites: number; skipped?: string };
  /** One row per precision written (none when calibration was skipped). */
  rows: CoordinatorPrecisionRow[];
  chosen: { precision: 'fp32' | 'int8'; reason: string };
}

/** Builds the shrunk final student from the masked full-shape weights (given only when the run pruned). */
export type ShrinkFinal = (full: NamedTensor[]) => Promise<tf.LayersModel>;

/** The student the round config describes (client/kd-trainer.ts's keys and defaults; images are 1-channel). */
function studentOf(training: CoordinatorConfig['training']): { arch: string; imageSize: number; numClasses: number; widthMultiplier: number; seed: number } {
  const num = (k: string, d: number): number => (typeof training[k] === 'number' ? Number(training[k]) : d);
  return { arch: typeof training.arch === 'string' ? training.arch : 'mobile-s', imageSize: num('imageSize', 64), numClasses: num('numClasses', 2), widthMultiplier: num('widthMultiplier', 1), seed: num('seed', 0) };
}

/**
 * After federated calibration: exports the final global model to FP32 ONNX, quantizes it with
 * the federated ranges (quantizeWithRanges, QDQ), and writes `stateDir/final-model/`:
 * `model.fp32.onnx`, `model.int8.onnx`, `calibration.fkw` (merged statistics, for `fedkd
 * quantize --federated`) and `report.json` (sizes, CPU latency at batch 1 and 32 with one
 * thread, `chosen`: int8 only when at least MIN_SPEEDUP× faster at batch 32). Deterministic
 * from the stored state, so a restart repeats it exactly. When calibration was skipped it
 * writes only `report.json` (writeSkippedReport): the run's model is `final-model.fkw`, FP32.
 */
export async function writeInt8Student(config: CoordinatorConfig, phase: CalibrationPhase, finalWeights: Uint8Array, shrink?: ShrinkFinal): Promise<CoordinatorPrecisionReport> {
  const skipped = phase.skipped();
  if (skipped !== null) return writeSkippedReport(config, skipped);
  await initBackend();
  const s = studentOf(config.training);
  const full = unpackTensors(finalWeights);
  // after federated pruning the deployable student is the physically smaller one; its layers
  // keep their names, so the ranges calibrated on the masked model apply to it unchanged
  const model = shrink ? await shrink(full) : buildModel(s.arch, { inputSize: s.imageSize, inputChannels: 1, numClasses: s.numClasses, widthMultiplier: s.widthMultiplier, seed: s.seed });
  let fp32: Uint8Array;
  try {
    if (!shrink) setNamedWeights(model, full);
    fp32 = exportOnnx(model);
  } finally {
    model.dispose();
  }
  const int8 = quantizeWithRanges(fp32, await phase.ranges());
  const merged = await phase.merged();
  const dir = path.join(config.stateDir, FINAL_ONNX_DIR);
  mkdirSync(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, 'model.fp32.onnx'), fp32);
  await writeFileAtomic(path.join(dir, 'model.int8.onnx'), int8);
  await writeFileAtomic(path.join(dir, 'calibration.fkw'), packTensors(merged.stats));
  const chw = [1, s.imageSize, s.imageSize];
  const latency = { runs: config.quantize?.latencyRuns, threads: 1 };
  // FP32 and INT8 timed together, interleaved (measureLatencies), so the choice is not the load of the moment
  const [batch1, batch32] = [await measureLatencies([fp32, int8], [1, ...chw], latency), await measureLatencies([fp32, int8], [32, ...chw], latency)];
  const rows: CoordinatorPrecisionRow[] = (
    [
      ['fp32', fp32],
      ['int8', int8],
    ] as const
  ).map(([precision, bytes], k) => ({ precision, fileBytes: bytes.length, sizeRatio: bytes.length / fp32.length, latencyMs: { batch1: batch1[k], batch32: batch32[k] }, speedupBatch32: batch32[0] / batch32[k] }));
  const speedup = rows[1].speedupBatch32;
  const faster = speedup >= MIN_SPEEDUP;
  const report: CoordinatorPrecisionReport = {
    model: path.join(dir, 'model.fp32.onnx'),
    input: chw,
    int8: 'written',
    calibration: { method: config.quantize?.method ?? 'percentile', source: 'federated', images: merged.images, sites: phase.sitesAnswered() },
    rows,
    chosen: {
      precision: faster ? 'int8' : 'fp32',
      reason: `INT8 is ${speedup.toFixed(2)}× FP32 at batch 32 on this CPU (${faster ? 'at least' : 'below'} ${MIN_SPEEDUP}×)${faster ? '' : '; serve FP32'}; accuracy per site: fedkd quantize --federated calibration.fkw --test …`,
    },
  };
  await writeFileAtomic(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  info(`federated INT8 student: ${int8.length} bytes (${(int8.length / fp32.length).toFixed(2)}× FP32), ${speedup.toFixed(2)}× at batch 32, chosen ${report.chosen.precision}; wrote ${dir}`);
  return report;
}

/**
 * The report of a run whose federated calibration was skipped (no site could calibrate, or
 * none answered): `int8: 'skipped'` with the reason, no rows, FP32 chosen. Writes
 * `stateDir/final-model/report.json` only; the final model is `stateDir/final-model.fkw`.
 */
export async function writeSkippedReport(config: CoordinatorConfig, reason: string): Promise<CoordinatorPrecisionReport> {
  const dir = path.join(config.stateDir, FINAL_ONNX_DIR);
  mkdirSync(dir, { recursive: true });
  const report: CoordinatorPrecisionReport = {
    model: path.join(config.stateDir, 'final-model.fkw'),
    input: [],
    int8: 'skipped',
    calibration: { method: config.quantize?.method ?? 'percentile', source: 'federated', images: 0, sites: 0, skipped: reason },
    rows: [],
    chosen: { precision: 'fp32', reason: `federated calibration skipped (${reason}); serve the FP32 model` },
  };
  await writeFileAtomic(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  info(`federated INT8 student skipped: ${reason}; the final model is ${report.model} (FP32)`);
  return report;
}
