#!/usr/bin/env node
// `npm run bench`: runs every bench/*.bench.ts in turn; each prints one JSON line per figure.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const only = process.argv[2];
const files = readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.bench.ts') && (!only || f.includes(only))).sort();
let failed = 0;
for (const f of files) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench', f)], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) { failed++; console.error(`bench ${f} failed with ${r.status}`); }
}
process.exit(failed ? 1 : 0);
