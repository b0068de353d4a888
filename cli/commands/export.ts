import path from 'node:path';
import type { Command } from 'commander';
import { sha256 } from '../../core/files.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { countParams, loadModel } from '../../models/index.ts';
import { exportOnnx, OPSET } from '../../quantize/export/index.ts';
import { printJson } from '../run.ts';

interface ExportFlags {
  model: string;
  out: string;
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
}

async function run(o: ExportFlags): Promise<void> {
  await initBackend();
  const model = await loadModel(o.model);
  const bytes = exportOnnx(model);
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
  };
  if (o.json) printJson(summary);
  else info(`wrote ${path.resolve(o.out)} (${(bytes.length / 1024).toFixed(1)} KiB, FP32, opset ${OPSET}, BN folded; input [N,${c},${h},${w}])`);
}

/** `fedkd export --model DIR --out FILE.onnx [--json]`: a saved tfjs model to FP32 ONNX (NCHW input `input`, output `logits`). */
export function register(program: Command): void {
  program
    .command('export')
    .description('export a saved model folder (model.json + weights.bin) to an FP32 ONNX file, BN folded into the convolutions')
    .requiredOption('--model <dir>', 'saved model folder')
    .requiredOption('--out <file>', 'ONNX file to write (atomically)')
    .option('--json', 'print one JSON line with the file size, sha256, opset and input shape')
    .action((o: ExportFlags) => run(o));
}
