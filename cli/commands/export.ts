import path from 'node:path';
import type { Command } from 'commander';
import { sha256, writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { countParams, loadModel } from '../../models/index.ts';
import { exportOnnx, OPSET } from '../../quantize/export/index.ts';
import { verifyExport } from '../../quantize/export/verify.ts';
import { UserError } from '../../core/errors.ts';
import { printJson } from '../run.ts';

interface ExportFlags {
  model: string;
  out: string;
  verify: boolean;
  json?: boolean;
}

/** What `fedkd export` wrote. */
export interface ExportSummary {
  model: string;
  out: string;
  bytes: number;
  sha256: string;
  opset: number;
  params: number;
  input: (number | string)[];
  /** max |ONNX Runtime − tfjs| on a random batch (absent with --no-verify). */
  maxAbsDiff?: number;
}

async function run(o: ExportFlags): Promise<void> {
  await initBackend();
  const model = await loadModel(o.model);
  const bytes = exportOnnx(model);
  const check = o.verify ? await verifyExport(model, bytes) : undefined;
  if (check && !check.ok) throw new UserError(`the exported model differs from tfjs by ${check.maxAbsDiff.toExponential(2)} (max |output| ${check.maxAbsOutput.toPrecision(3)}); not written`);
  await writeFileAtomic(o.out, bytes);
  const [, h, w, c] = model.inputs[0].shape as number[];
  const summary: ExportSummary = {
    model: o.model,
    out: o.out,
    bytes: bytes.length,
    sha256: sha256(bytes),
    opset: OPSET,
    params: countParams(model).total,
    input: ['N', c, h, w],
    ...(check ? { maxAbsDiff: check.maxAbsDiff } : {}),
  };
  if (o.json) printJson(summary);
  else {
    info(`wrote ${path.resolve(o.out)} (${(bytes.length / 1024).toFixed(1)} KiB, FP32, opset ${OPSET}, BN folded; input [N,${c},${h},${w}])`);
    if (check) info(`checked in ONNX Runtime: max |ORT − tfjs| = ${check.maxAbsDiff.toExponential(2)} on a random batch`);
  }
}

/** `fedkd export --model DIR --out FILE.onnx [--json]`: a saved tfjs model to FP32 ONNX (NCHW input `input`, output `logits`). */
export function register(program: Command): void {
  program
    .command('export')
    .description('export a saved model folder (model.json + weights.bin) to an FP32 ONNX file, BN folded into the convolutions')
    .requiredOption('--model <dir>', 'saved model folder')
    .requiredOption('--out <file>', 'ONNX file to write (atomically)')
    .option('--no-verify', 'skip running the file in ONNX Runtime against tfjs before writing it')
    .option('--json', 'print one JSON line with the file size, sha256, opset, input shape and the check')
    .action((o: ExportFlags) => run(o));
}
