import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { printJson } from '../run.ts';
import { compare } from '../simulate/baselines.ts';
import { loadSimulateConfig } from '../simulate/config.ts';
import { evaluateInt8, int8Table } from '../simulate/int8.ts';
import { pruningSummary, pruningTable } from '../simulate/pruning.ts';
import { summaryTable, writeReport } from '../simulate/report.ts';
import { ensureFederation, ensureTeacher, runFederation } from '../simulate/steps.ts';

interface SimulateFlags {
  config?: string;
  quick?: boolean;
  json?: boolean;
}

/**
 * `fedkd simulate [--config sim.yaml] [--quick]`: the whole study on one machine. Makes the
 * synthetic federation and the teacher if absent, runs a real coordinator and one real client
 * process per site on loopback, then compares the federated student with each site alone,
 * centralised training and the teacher, and writes the report folder.
 */
export function register(program: Command): void {
  program
    .command('simulate')
    .description('simulate a federation on loopback (real coordinator and client processes) and write a report')
    .option('--config <file>', 'simulation config, YAML or JSON (defaults otherwise)')
    .option('--quick', 'a small preset that finishes in minutes')
    .option('--json', 'print the summary as one JSON line')
    .action(async (f: SimulateFlags) => {
      const t0 = Date.now();
      const c = loadSimulateConfig(f.config, Boolean(f.quick));
      const backend = (await initBackend()).name;
      const sites = await ensureFederation(c);
      const teacher = await ensureTeacher(c, sites);
      const t1 = Date.now();
      info(`simulate: ${c.federated.rounds} rounds over ${sites.length} sites (${c.federated.strategy.name}, E = ${c.federated.localEpochs})`);
      const { rounds, finalWeights, finalOnnx } = await runFederation(c, sites, teacher);
      const t2 = Date.now();
      const comparison = await compare(c, sites, teacher, finalWeights, path.join(c.out, 'student'));
      const int8 = finalOnnx ? await evaluateInt8(c, sites, finalOnnx) : undefined;
      const pruning = await pruningSummary(c, sites, path.dirname(finalWeights), rounds, path.join(c.out, 'student'));
      const seconds = { total: (Date.now() - t0) / 1000, preparation: (t1 - t0) / 1000, federation: (t2 - t1) / 1000, baselines: (Date.now() - t2) / 1000 };
      const overhead = rounds.map((r) => ({ round: r.round, phaseSeconds: r.train.phaseSeconds, slowestFitSeconds: r.train.slowestFitSeconds, overhead: r.train.overhead }));
      const summary = await writeReport(c.out, rounds, comparison, { seconds, backend, coordinatorOverhead: overhead, config: c, ...(int8 ? { int8 } : {}), ...(pruning ? { pruning } : {}) });
      if (pruning) appendFileSync(path.join(c.out, 'summary.md'), `\n## Federated pruning\n\n${pruningTable(pruning)}`);
      if (int8) appendFileSync(path.join(c.out, 'summary.md'), `\n## INT8 student (federated calibration)\n\n${int8Table(int8)}`);
      process.stderr.write(`\n${summaryTable(comparison)}\n${int8 ? `\nINT8 student (federated calibration):\n${int8Table(int8)}\n` : ''}${pruning ? `\nFederated pruning:\n${pruningTable(pruning)}` : ''}`);
      info(`simulate: report in ${c.out} (${seconds.total.toFixed(0)} s)`);
      if (f.json) printJson({ out: c.out, ...summary });
    });
}
