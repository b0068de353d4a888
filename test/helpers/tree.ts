import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { sha256 } from '../../core/files.ts';

/** Every file under `dir` with its sha256, relative paths sorted: two trees are byte-identical when these are equal. */
export function fileTree(dir: string): [string, string][] {
  const out: [string, string][] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d).sort()) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push([path.relative(dir, p), sha256(readFileSync(p))]);
    }
  };
  walk(dir);
  return out;
}
