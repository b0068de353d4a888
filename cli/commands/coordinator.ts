import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadTokens } from '../../coordinator/auth.ts';
import { loadCoordinatorConfig } from '../../coordinator/config.ts';
import { startCoordinator } from '../../coordinator/server.ts';
import { info } from '../../core/log.ts';
import { initBackend } from '../../engine/backend.ts';
import { numberIn, printJson } from '../run.ts';

interface CoordinatorFlags {
  config: string;
  port?: number;
  host?: string;
  insecure?: boolean;
  portFile?: string;
  json?: boolean;
}

/** `fedkd coordinator --config fed.yaml`: runs (or resumes) a federated training run and serves the sites over gRPC. */
export function register(program: Command): void {
  program
    .command('coordinator')
    .description('run the federation coordinator (resumes the run in its stateDir after a crash)')
    .requiredOption('--config <file>', 'coordinator config, YAML or JSON')
    .option('--host <host>', 'listen on this host (overrides listen.host)')
    .option('--port <n>', 'listen on this port, 0 for any free one (overrides listen.port)', numberIn(0, 65535))
    .option('--insecure', 'plain-text transport (loopback only)')
    .option('--port-file <file>', 'write the port listened on to this file')
    .option('--json', 'print the rounds summary as one JSON line at the end')
    .action(async (f: CoordinatorFlags) => {
      const base = loadCoordinatorConfig(f.config);
      const config = {
        ...base,
        listen: { host: f.host ?? base.listen.host, port: f.port ?? base.listen.port },
        insecure: base.insecure || Boolean(f.insecure),
        tls: f.insecure ? undefined : base.tls,
      };
      // pruning and INT8 export build the student as a tfjs model: on the fast backend, and
      // without tfjs's "install the node backend" banner that its fallback prints
      if (config.pruning || config.quantize) await initBackend();
      const tokens = loadTokens(config.tokensFile);
      const running = await startCoordinator(config, tokens);
      if (f.portFile) writeFileSync(f.portFile, `${running.port}\n`);
      const stop = (): void => {
        info('coordinator: stopping');
        void running.stop().then(() => process.exit(130));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const summaries = await running.finished;
      await running.stop();
      info(`coordinator: run ${running.coordinator.runId} finished after ${summaries.length} rounds; final model in ${config.stateDir}/final-model.fkw`);
      if (f.json) printJson({ runId: running.coordinator.runId, stateDir: config.stateDir, rounds: summaries });
    });
}
