import path from 'node:path';
import { Option, type Command } from 'commander';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { printJson } from '../run.ts';
import { BASELINE_KINDS, baselineKinds, compare, evaluateFederated, trainBaseline, type BaselineKind } from '../simulate/baselines.ts';
import { loadSimulateConfig } from '../simulate/config.ts';
import { evaluateInt8, int8Table } from '../simulate/int8.ts';
import { pruningSummary, pruningTable } from '../simulate/pruning.ts';
import { summaryMarkdown, writeReport, type ReportSection } from '../simulate/report.ts';
import { prepare, runFederation, startBaseline } from '../simulate/steps.ts';
import { loadTestSets } from '../simulate/student.ts';

interface SimulateFlags {
  config?: string;
  quick?: boolean;
  json?: boolean;
  /** Internal: train only this baseline and write it to `baselineOut` (the parent runs it beside the federation). */
  baseline?: BaselineKind;
  baselineOut?: string;
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
    .addOption(new Option('--baseline <kind>').choices([...BASELINE_KINDS]).hideHelp())
    .addOption(new Option('--baseline-out <file>').hideHelp())
    .action(async (f: SimulateFlags) => {
      const t0 = Date.now();
      const c = loadSimulateConfig(f.config, Boolean(f.quick));
      const backend = (await initBackend()).name;
      const { sites, teacher, pretrained } = await prepare(c);
      if (f.baseline) {
        const result = await trainBaseline(c, sites, teacher, f.baseline, pretrained);
        if (!f.baselineOut) throw new UserError('--baseline needs --baseline-out');
        await writeFileAtomic(f.baselineOut, JSON.stringify(result));
        return;
      }
      const t1 = Date.now();
      // the baselines need nothing from the federated run: train them in their own processes beside it
      const flags = [...(f.config ? ['--config', path.resolve(f.config)] : []), ...(f.quick ? ['--quick'] : [])];
      const baselines = baselineKinds(c).map((kind) => startBaseline(c, flags, kind));
      info(`simulate: ${c.federated.rounds} rounds over ${sites.length} sites (${c.federated.strategy.name}, E = ${c.federated.localEpochs})`);
      const { rounds, finalWeights, finalOnnx } = await runFederation(c, sites, teacher, pretrained).catch((e: unknown) => {
        baselines.forEach((b) => b.kill());
        throw e;
      });
      const t2 = Date.now();
      // the report's own evaluations need only the federated run: they take the core the
      // baselines leave idle once the federation is over, instead of waiting for them
      const baselineResults = Promise.all(baselines.map((b) => b.result));
      baselineResults.catch(() => undefined); // awaited below; a failure surfaces there
      const tests = await loadTestSets(c, sites);
      const federated = await evaluateFederated(c, tests, finalWeights, path.join(c.out, 'student'), pretrained);
      const int8 = finalOnnx ? await evaluateInt8(c, sites, finalOnnx) : undefined;
      const pruning = await pruningSummary(c, tests, path.dirname(finalWeights), rounds, path.join(c.out, 'student'));
      const comparison = compare(federated, await baselineResults);
      const seconds = { total: (Date.now() - t0) / 1000, preparation: (t1 - t0) / 1000, federation: (t2 - t1) / 1000, afterFederation: (Date.now() - t2) / 1000 };
      const overhead = rounds.map((r) => ({ round: r.round, phaseSeconds: r.train.phaseSeconds, slowestFitSeconds: r.train.slowestFitSeconds, overhead: r.train.overhead }));
      const sections: ReportSection[] = [
        ...(pruning ? [{ title: 'Federated pruning', body: pruningTable(pruning) }] : []),
        ...(int8 ? [{ title: 'INT8 student (federated calibration)', body: int8Table(int8) }] : []),
      ];
      const summary = await writeReport(c.out, rounds, comparison, { seconds, backend, coordinatorOverhead: overhead, config: c, ...(int8 ? { int8 } : {}), ...(pruning ? { pruning } : {}) }, sections);
      process.stderr.write(`\n${summaryMarkdown(comparison, sections)}\n`);
      info(`simulate: report in ${c.out} (${seconds.total.toFixed(0)} s)`);
      if (f.json) printJson({ out: c.out, ...summary });
    });
}
