import type { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { initBackend, type BackendChoice } from '../../engine/backend.ts';
import { choosePrecision, planInference, type InferencePlan, type Precision } from '../../runtime/plan.ts';
import { scanRepository } from '../../runtime/repository.ts';
import { cpuFeatures, systemProbes, type CpuFeatures, type GpuInfo, type SystemProbes } from '../../runtime/probes.ts';
import { firstTouchAdvice, measureFirstTouch, type FirstTouch } from '../../core/first-touch.ts';
import { printJson } from '../run.ts';

/** What `fedkd doctor` found on this machine. */
export interface DoctorReport {
  tfjs: { backend: string; reason: string; skipped: BackendChoice['skipped'] };
  onnxruntime: { version: string; providers: { name: string; bundled: boolean }[] };
  cpu: CpuFeatures;
  gpu: { nvidiaSmi: boolean; gpus: GpuInfo[] };
  ram: { totalMB: number; freeMB: number };
  inference: InferencePlan;
  /** Fresh against touched memory, and whether glibc keeps freed memory: what bounds large model transfers (core/first-touch.ts). */
  memory: FirstTouch & ReturnType<typeof firstTouchAdvice>;
  /** With `--models DIR`: the file each version would run, and why. */
  models?: { version: string; precision: Precision; why: string }[];
}

const MIB = 1024 * 1024;

/** Gathers the doctor report from the probes (the real ones by default). */
export async function diagnose(probes: SystemProbes = systemProbes, models?: string, firstTouch: () => FirstTouch = measureFirstTouch): Promise<DoctorReport> {
  const backend = await initBackend();
  const gpus = probes.gpus();
  const inference = planInference(probes);
  const versions = models ? scanRepository(models).versions : undefined;
  const touch = firstTouch();
  return {
    tfjs: { backend: backend.name, reason: backend.reason, skipped: backend.skipped },
    onnxruntime: { version: ort.env.versions.node ?? ort.env.versions.common, providers: probes.listBackends() },
    cpu: cpuFeatures(probes.cpuInfoText()),
    gpu: { nvidiaSmi: gpus.length > 0, gpus },
    ram: { totalMB: Math.round(probes.totalRamBytes() / MIB), freeMB: Math.round(probes.freeRamBytes() / MIB) },
    inference,
    memory: { ...touch, ...firstTouchAdvice(touch, process.env) },
    ...(versions ? { models: versions.map((v) => ({ version: v.version, ...choosePrecision(Object.keys(v.files) as Precision[], inference.mode, v.int8Faster) })) } : {}),
  };
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** The report as a few aligned lines for a person. */
export function formatDoctor(r: DoctorReport): string {
  const gpu = r.gpu.gpus.length
    ? r.gpu.gpus.map((g) => `#${g.index} ${g.name}, ${g.memoryFreeMB}/${g.memoryTotalMB} MiB free`).join('; ')
    : 'none (nvidia-smi absent or lists no GPU)';
  const rows: [string, string][] = [
    ['tfjs backend', `${r.tfjs.backend} — ${r.tfjs.reason}`],
    ...r.tfjs.skipped.map((s): [string, string] => ['  passed over', `${s.name}: ${s.why}`]),
    ['onnxruntime', `${r.onnxruntime.version}; providers ${r.onnxruntime.providers.map((p) => `${p.name}${p.bundled ? '' : ' (not installed)'}`).join(', ')}`],
    ['cpu', `${r.cpu.model}, ${r.cpu.logicalCores} logical cores`],
    ['cpu features', `AVX2 ${yesNo(r.cpu.avx2)}, AVX-512 ${yesNo(r.cpu.avx512)}, VNNI ${yesNo(r.cpu.vnni)}`],
    ['gpu', gpu],
    ['ram', `${r.ram.freeMB} MiB free of ${r.ram.totalMB} MiB`],
    ['model transfers', r.memory.advice],
    ['inference', `${r.inference.mode} mode on ${r.inference.provider}, batch ≤ ${r.inference.maxBatch}`],
    ...r.inference.reasons.map((why): [string, string] => ['  because', why]),
    ...(r.models ?? []).map((m): [string, string] => [`model ${m.version}`, `${m.precision} — ${m.why}`]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** `fedkd doctor [--json]`: what this machine offers for training and inference. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('show the tfjs backend, ONNX Runtime providers, CPU features, GPU, RAM and the inference mode')
    .option('--models <dir>', 'also show which file of each version in this model repository would run')
    .option('--json', 'print one JSON line')
    .action(async (opts: { json?: boolean; models?: string }) => {
      const report = await diagnose(systemProbes, opts.models);
      if (opts.json) printJson(report);
      else process.stdout.write(`${formatDoctor(report)}\n`);
    });
}
