import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runAgent } from '../../client/agent.ts';
import type { SiteTrainer } from '../../client/site-trainer.ts';
import { loadToyTrainer } from '../../client/toy-site-file.ts';
import { UserError } from '../../core/errors.ts';
import { info } from '../../core/log.ts';
import { channelCredentials, hostOf } from '../../proto/credentials.ts';
import { GrpcLink } from '../../proto/grpc-link.ts';
import { oneOf, printJson } from '../run.ts';

interface ClientFlags {
  coordinator: string;
  data: string;
  teacher?: string;
  token?: string;
  tokenFile?: string;
  site?: string;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  insecure?: boolean;
  delta?: boolean;
  trainer: 'kd' | 'toy' | 'decoder';
  encoder?: string;
  json?: boolean;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The site token: --token, --token-file or FEDKD_TOKEN (a file or the environment keep it out of `ps`). */
function siteToken(f: ClientFlags): string {
  const t = f.token ?? (f.tokenFile ? read(f.tokenFile, 'token file').toString('utf8').trim() : process.env.FEDKD_TOKEN);
  if (!t) throw new UserError('no site token: give --token, --token-file or FEDKD_TOKEN');
  return t;
}

async function makeTrainer(f: ClientFlags): Promise<SiteTrainer> {
  if (f.trainer === 'toy') return loadToyTrainer(f.data);
  if (f.trainer === 'decoder') {
    if (!f.encoder) throw new UserError('--encoder is required to fine-tune the mask decoder');
    const { DecoderTrainer } = await import('../../client/decoder-trainer.ts');
    return new DecoderTrainer(f.data, f.encoder);
  }
  if (!f.teacher) throw new UserError('--teacher is required to train by distillation');
  const { kdTrainerFromCli } = await import('../../client/kd-trainer.ts');
  return kdTrainerFromCli(f.data, f.teacher);
}

/** `fedkd client --coordinator HOST:PORT --data SITE_DIR --teacher teacher.onnx --token T`: the hospital's agent. */
export function register(program: Command): void {
  program
    .command('client')
    .description('run a site: train and evaluate locally for the coordinator (only weights, counts and metrics leave the site)')
    .requiredOption('--coordinator <host:port>', 'the coordinator to call (outbound only)')
    .requiredOption('--data <dir>', 'the site folder (train/ and test/ datasets)')
    .option('--teacher <file>', 'teacher ONNX model for soft labels')
    .option('--token <token>', 'this site token (prefer --token-file or FEDKD_TOKEN)')
    .option('--token-file <file>', 'file holding the site token')
    .option('--site <id>', 'site id (default: the data folder name)')
    .option('--ca <file>', 'CA certificate that signed the coordinator certificate (TLS)')
    .option('--cert <file>', 'this site certificate (mutual TLS)')
    .option('--key <file>', 'this site private key (mutual TLS)')
    .option('--server-name <name>', 'name to check the coordinator certificate against (e.g. coordinator, when dialling an address not in it)')
    .option('--insecure', 'plain-text transport (loopback coordinator only)')
    .option('--delta', 'send weight deltas instead of weights')
    .option('--trainer <kind>', 'kd (distillation with train/), decoder (mask decoder on cached embeddings; needs --encoder) or toy (plumbing dry run: SITE_DIR/toy-site.json)', oneOf(['kd', 'toy', 'decoder'] as const), 'kd')
    .option('--encoder <file>', 'ONNX encoder whose cached embeddings the decoder trainer trains on')
    .option('--json', 'print what the site took part in as one JSON line')
    .action(async (f: ClientFlags) => {
      hostOf(f.coordinator);
      const siteId = f.site ?? path.basename(path.resolve(f.data));
      const token = siteToken(f);
      let credentials;
      if (f.insecure) credentials = channelCredentials(f.coordinator, 'insecure');
      else if (f.ca) credentials = channelCredentials(f.coordinator, { ca: read(f.ca, 'CA certificate'), cert: f.cert ? read(f.cert, 'certificate') : undefined, key: f.key ? read(f.key, 'private key') : undefined });
      else throw new UserError('give --ca (TLS; with --cert and --key for mutual TLS) or --insecure (loopback only)');
      const trainer = await makeTrainer(f);
      const link = new GrpcLink({ address: f.coordinator, siteId, token, credentials, serverNameOverride: f.insecure ? undefined : f.serverName });
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      try {
        const report = await runAgent({
          siteId,
          link,
          trainer,
          sendDelta: f.delta,
          signal: stop.signal,
          onEvent: (e) => {
            if (e.type === 'task' && e.task.kind !== 'wait') info(`site ${siteId}: ${e.task.kind} round ${e.task.round}`);
            if (e.type === 'retry') info(`site ${siteId}: coordinator unavailable (${e.call}), retrying in ${e.waitMs} ms`);
          },
        });
        info(`site ${siteId}: done (trained in ${report.trainedRounds.length} rounds)`);
        if (f.json) printJson({ site: siteId, ...report });
      } finally {
        link.close();
      }
    });
}
