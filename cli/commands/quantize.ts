import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info, warn } from '../../core/log.ts';
import { unpackTensors } from '../../core/tensors.ts';
import { loadDataset, type PreprocessInput } from '../../data/index.ts';
import { loadSitePart, sitePart } from '../../train/site-data.ts';
import { nchwBatches } from '../../quantize/agreement.ts';
import { decodeHistograms, decodeRanges, federatedRanges } from '../../quantize/calibration/federated.ts';
import type { AbsHistogram, TensorRange } from '../../quantize/calibration/histogram.ts';
import { CALIBRATION_METHODS, type CalibrationMethod, DEFAULT_PERCENTILE } from '../../quantize/calibration/methods.ts';
import { convertToFp16, fp16Compute } from '../../quantize/fp16.ts';
import { LATENCY_RUNS } from '../../quantize/latency.ts';
import { choosePrecision, DEFAULT_BUDGET, planMixedPrecision } from '../../quantize/mixed.ts';
import { layerTable, precisionRows, type PrecisionReport, reportTable, type TestSet } from '../../quantize/precision-report.ts';
import { quantizeStatic } from '../../quantize/qdq/index.ts';
import { decodeModel } from '../../quantize/qdq/onnx-tensors.ts';
import { tableText } from '../report/table.ts';
import { numberIn, oneOf, positiveInt, printJson } from '../run.ts';

interface QuantizeFlags {
  model: string;
  calib?: string;
  federated?: string;
  out: string;
  method: CalibrationMethod;
  percentile: number;
  test?: string[];
  report?: string;
  fp16Out?: string;
  aucBudget: number;
  runs: number;
  threads: number;
  window: 'file' | 'auto' | 'minmax' | 'lung' | 'mediastinum' | 'bone';
  normalize: 'unit' | 'zscore';
  json?: boolean;
}

function readModel(file: string): { bytes: Uint8Array; chw: number[] } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const dims = (decodeModel(bytes).graph!.input?.[0]?.type?.tensorType?.shape?.dim ?? []).map((d) => Number(d.dimValue ?? 0));
  if (dims.length !== 4 || dims.slice(1).some((d) => !(d > 0))) throw new UserError(`${file}: expected an NCHW image input [N, C, H, W] with fixed C, H, W`);
  return { bytes, chw: dims.slice(1) };
}

/** A test folder: a site's test part, or a dataset folder holding labels.csv. */
async function loadTestSet(dir: string, pre: PreprocessInput): Promise<TestSet> {
  const part = sitePart(dir, 'test') ?? (existsSync(path.join(dir, 'labels.csv')) ? dir : undefined);
  if (!part) throw new UserError(`${dir} has no test images (expected ${path.join(dir, 'test', 'labels.csv')} or ${path.join(dir, 'labels.csv')})`);
  return { name: path.basename(path.resolve(dir)), images: await loadDataset(part, pre) };
}

/** The coordinator's merged statistics (--federated), checked before any image is read. */
function readFederatedStats(o: QuantizeFlags): { merged: Map<string, TensorRange>; hists: Map<string, AbsHistogram> } {
  let stats;
  try {
    stats = unpackTensors(new Uint8Array(readFileSync(o.federated!)));
  } catch (e) {
    throw new UserError(`${o.federated}: not a calibration statistics file (${(e as Error).message})`);
  }
  const merged = decodeRanges(stats);
  const hists = decodeHistograms(stats, {});
  if (merged.size === 0) throw new UserError(`${o.federated} holds no activation ranges`);
  if (o.method !== 'minmax' && hists.size === 0) throw new UserError(`${o.federated} holds ranges only (a minmax calibration); ${o.method} needs the histogram phase`);
  return { merged, hists };
}

async function run(o: QuantizeFlags): Promise<void> {
  if (Boolean(o.calib) === Boolean(o.federated)) throw new UserError('give exactly one of --calib DIR (local images) or --federated FILE (merged site statistics)');
  const { bytes: fp32, chw } = readModel(o.model);
  const pre: PreprocessInput = { size: chw[1], channels: chw[0] as 1 | 3, window: o.window, normalize: o.normalize };
  const federated = o.federated ? readFederatedStats(o) : undefined;
  const calib = o.calib ? await loadSitePart(o.calib, 'train', pre) : undefined;
  const testDirs = o.test ?? (o.calib && sitePart(o.calib, 'test') ? [o.calib] : []);
  if (testDirs.length === 0) throw new UserError('no test set for the precision report: give --test DIR');
  const tests = await Promise.all(testDirs.map((d) => loadTestSet(d, pre)));

  info(`calibrating (${o.method}) on ${calib ? `${calib.n} images of ${o.calib}` : `the site statistics in ${o.federated}`}`);
  const c = { method: o.method, percentile: o.percentile };
  const ranges = calib ? (await quantizeStatic(fp32, nchwBatches(calib), c)).ranges : federatedRanges(c, federated!.merged, federated!.hists);
  const fp16 = { bytes: convertToFp16(fp32), compute: 'float16' as 'float16' | 'float32' };
  fp16.compute = await fp16Compute(fp16.bytes);
  if (fp16.compute === 'float32') info('FP16: this ONNX Runtime CPU build has no float16 convolution; it upcasts the weights at load and computes in float32');
  const evalSet = calib ?? tests[0].images;
  info(`mixed precision: profiling per layer and checking accuracy on ${calib ? 'the calibration images' : `test set ${tests[0].name}`}`);
  const latency = { runs: o.runs, threads: o.threads };
  const plan = await planMixedPrecision(fp32, ranges, { dims: [32, ...chw], evalSet, budget: { ...DEFAULT_BUDGET, aucDrop: o.aucBudget }, ...latency });
  // the plan's INT8 and mixed models are the ones it checked against the budget; quantized once
  const { int8, mixedBytes } = plan;
  const variants = [
    { precision: 'fp32' as const, bytes: fp32 },
    { precision: 'fp16' as const, bytes: fp16.bytes },
    { precision: 'int8' as const, bytes: int8 },
    { precision: 'mixed' as const, bytes: mixedBytes },
  ];
  const rows = await precisionRows(variants, tests, chw, latency);
  // decided on the report's own batch-32 timings, so the reason and the table agree
  const at32 = (p: string): number => rows.find((r) => r.precision === p)!.latencyMs.batch32;
  const mixed = { ...choosePrecision(plan, { fp32: at32('fp32'), int8: at32('int8'), mixed: at32('mixed') }, 32), layers: plan.layers };
  const written = mixed.chosen === 'mixed' ? mixedBytes : int8;
  if (mixed.chosen === 'fp32') warn(`no quantized model beat FP32 within the budget on this machine; ${o.out} holds INT8, serve the FP32 model on CPU`);
  await writeFileAtomic(o.out, written);
  if (o.fp16Out) await writeFileAtomic(o.fp16Out, fp16.bytes);
  const report: PrecisionReport = {
    model: o.model,
    input: chw,
    calibration: { method: o.method, source: o.calib ?? o.federated!, images: calib?.n ?? null },
    rows,
    chosen: { precision: mixed.chosen, reason: mixed.reason },
    layers: mixed.layers,
    budget: { aucDrop: o.aucBudget },
    fp16Compute: fp16.compute,
  };
  const reportFile = o.report ?? path.join(path.dirname(o.out), 'report.json');
  await writeFileAtomic(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  if (o.json) printJson({ out: o.out, report: reportFile, precision: mixed.chosen === 'mixed' ? 'mixed' : 'int8', chosen: mixed.chosen, rows });
  else {
    info(`\n${tableText(reportTable(report))}\n\nmixed precision, per layer (the mixed row):\n${tableText(layerTable(mixed.layers))}`);
    info(`${mixed.reason}\nwrote ${o.out} (${mixed.chosen === 'mixed' ? 'mixed' : 'INT8'}) and ${reportFile}`);
  }
}

/**
 * `fedkd quantize --model student.onnx --calib DIR|--federated FILE --out student.int8.onnx`:
 * static INT8 (QDQ) with MinMax/Percentile/Entropy calibration, latency-aware mixed
 * precision, and the precision report (FP32, FP16, INT8, mixed) as report.json + a table.
 */
export function register(program: Command): void {
  program
    .command('quantize')
    .description('INT8-quantize an FP32 ONNX student (QDQ, per-channel int8 weights, uint8 activations), choose mixed precision by measured latency, and write the precision report')
    .requiredOption('--model <onnx>', 'FP32 ONNX student (from fedkd export)')
    .option('--calib <dir>', 'calibration images: a site folder (its train/ part) or a dataset folder with labels.csv')
    .option('--federated <file>', "merged calibration statistics from the sites (the coordinator's FederatedCalibrator.mergedStats(), packed)")
    .requiredOption('--out <file>', 'quantized ONNX file to write (INT8, or mixed when chosen)')
    .option('--method <m>', `calibration: ${CALIBRATION_METHODS.join(', ')}`, oneOf(CALIBRATION_METHODS), 'percentile')
    .option('--percentile <p>', 'percentile of |x| kept by --method percentile', numberIn(50, 100), DEFAULT_PERCENTILE)
    .option('--test <dirs...>', 'test sets for the report (site folders or dataset folders); default: the --calib site test/ part')
    .option('--report <file>', 'precision report JSON (default: report.json beside --out)')
    .option('--fp16-out <file>', 'also write the FP16 model')
    .option('--auc-budget <x>', 'max AUC drop against FP32 allowed to mixed precision', numberIn(0, 1), DEFAULT_BUDGET.aucDrop)
    .option('--runs <n>', 'timed runs per latency figure (median)', positiveInt, LATENCY_RUNS)
    .option('--threads <n>', 'ONNX Runtime intra-op threads for the latency figures (1 keeps them steady on a shared machine)', positiveInt, 1)
    .option('--window <w>', 'VOI window: file, auto, minmax, lung, mediastinum, bone', oneOf(['file', 'auto', 'minmax', 'lung', 'mediastinum', 'bone'] as const), 'file')
    .option('--normalize <n>', 'unit ([0, 1]) or zscore (per image), as the student was trained', oneOf(['unit', 'zscore'] as const), 'zscore')
    .option('--json', 'print one JSON line (out, report, chosen, rows)')
    .action((o: QuantizeFlags) => run(o));
}
