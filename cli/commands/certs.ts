import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { makeTrialCredentials } from '../../coordinator/certs.ts';
import { isSiteId } from '../../coordinator/auth.ts';
import { UserError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../core/files.ts';
import { info } from '../../core/log.ts';
import { positiveInt, printJson } from '../run.ts';
import { chmod } from 'node:fs/promises';

interface CertsFlags {
  out: string;
  sites: string;
  hosts: string;
  days: number;
  json?: boolean;
}

async function writeSecret(file: string, data: string): Promise<void> {
  await writeFileAtomic(file, data);
  await chmod(file, 0o600);
}

/** `fedkd certs --out DIR --sites a,b,c`: a CA, the coordinator's certificate, and per site a client certificate and token. */
export function register(program: Command): void {
  program
    .command('certs')
    .description('create a CA, a coordinator certificate and per-site client certificates and tokens for a trial')
    .requiredOption('--out <dir>', 'output folder')
    .requiredOption('--sites <ids>', 'comma-separated site ids')
    .option('--hosts <names>', 'host names and IPs the coordinator is reached at', 'localhost,127.0.0.1')
    .option('--days <n>', 'validity in days', positiveInt, 365)
    .option('--json', 'print the written files as one JSON line')
    .action(async (f: CertsFlags) => {
      const sites = f.sites.split(',').map((s) => s.trim()).filter(Boolean);
      if (sites.length === 0) throw new UserError('--sites needs at least one site id');
      const bad = sites.find((s) => !isSiteId(s));
      if (bad) throw new UserError(`bad site id '${bad}': letters, digits and _.- only`);
      if (new Set(sites).size !== sites.length) throw new UserError('--sites lists a site twice');
      const hosts = f.hosts.split(',').map((s) => s.trim()).filter(Boolean);
      const c = makeTrialCredentials(sites, hosts, f.days);
      const out = path.resolve(f.out);
      mkdirSync(path.join(out, 'sites'), { recursive: true });
      const files: string[] = [];
      const put = async (name: string, data: string, secret = false): Promise<void> => {
        const file = path.join(out, name);
        await (secret ? writeSecret(file, data) : writeFileAtomic(file, data));
        files.push(file);
      };
      await put('ca.crt', c.ca.cert);
      await put('ca.key', c.ca.key, true);
      await put('coordinator.crt', c.coordinator.cert);
      await put('coordinator.key', c.coordinator.key, true);
      await put('tokens.txt', c.tokensFile);
      for (const s of sites) {
        await put(`sites/${s}.crt`, c.sites[s].cert);
        await put(`sites/${s}.key`, c.sites[s].key, true);
        await put(`sites/${s}.token`, `${c.sites[s].token}\n`, true);
      }
      info(`certs: CA, coordinator and ${sites.length} site certificates in ${out}; give each site its .crt, .key, .token and ca.crt; the coordinator reads tokens.txt (hashes only)`);
      if (f.json) printJson({ out, files });
    });
}
