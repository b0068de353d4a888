import type { Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { ARCH_DESCRIPTIONS, ARCHS, buildModel, countMacs, countParams, parseArch, saveModel, type ModelOptions } from '../../models/index.ts';
import { numberIn, positiveInt, printJson } from '../run.ts';

interface ModelsFlags {
  size: number;
  channels: number;
  classes: number;
  width: number;
  seed: number;
  arch?: string;
  save?: string;
  json?: boolean;
}

/** One row of `fedkd models`. */
export interface ModelRow {
  arch: string;
  description: string;
  params: number;
  trainableParams: number;
  macs: number;
  layers: number;
}

async function run(o: ModelsFlags): Promise<void> {
  await initBackend();
  const opts: ModelOptions = { inputSize: o.size, inputChannels: o.channels, numClasses: o.classes, widthMultiplier: o.width, seed: o.seed };
  if (o.save) {
    if (!o.arch) throw new UserError('--save needs --arch');
    await saveModel(buildModel(o.arch, opts), o.save);
    info(`saved a freshly initialised ${o.arch} (seed ${o.seed}) to ${o.save}`);
  }
  const archs = o.arch ? [parseArch(o.arch)] : ARCHS;
  const rows: ModelRow[] = archs.map((arch) => {
    const m = buildModel(arch, opts);
    const p = countParams(m);
    return { arch, description: ARCH_DESCRIPTIONS[arch], params: p.total, trainableParams: p.trainable, macs: countMacs(m), layers: m.layers.length };
  });
  if (o.json) {
    printJson({ size: o.size, channels: o.channels, classes: o.classes, width: o.width, models: rows });
    return;
  }
  process.stdout.write(`${'arch'.padEnd(10)} ${'trainable'.padStart(10)} ${'MACs'.padStart(12)}  description\n`);
  for (const r of rows) process.stdout.write(`${r.arch.padEnd(10)} ${String(r.trainableParams).padStart(10)} ${String(r.macs).padStart(12)}  ${r.description}\n`);
}

/** `fedkd models`: the reference architectures with their parameters and MACs; `--arch A --save DIR` writes an initial model. */
export function register(program: Command): void {
  program
    .command('models')
    .description('list the reference architectures (parameters, MACs per image); with --arch and --save, save a seeded initial model')
    .option('--arch <name>', `one architecture: ${ARCHS.join(', ')}`)
    .option('--size <px>', 'input height and width', positiveInt, 64)
    .option('--channels <n>', 'input channels', positiveInt, 1)
    .option('--classes <n>', 'number of classes', positiveInt, 2)
    .option('--width <x>', 'width multiplier', numberIn(0.05, 8), 1)
    .option('--seed <n>', 'initialisation seed', (v) => Number.parseInt(v, 10), 42)
    .option('--save <dir>', 'save the model (with --arch) to this folder')
    .option('--json', 'print one JSON line')
    .action((o: ModelsFlags) => run(o));
}
