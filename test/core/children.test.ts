import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir, until } from '../federation/fixtures.ts';

const CHILDREN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../core/children.ts');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * A parent that starts two children which would run for a minute (one ignoring nothing, one
 * with its stdio detached from the parent's, as a quiet coordinator is), prints their pids,
 * and waits; `track` says whether it ties them to itself with killWithParent.
 */
function parent(track: boolean): { pid: number; children: Promise<number[]>; exited: Promise<number | null> } {
  const file = path.join(tempDir('children'), 'parent.ts');
  writeFileSync(
    file,
    `import { spawn } from 'node:child_process';
import { killWithParent } from ${JSON.stringify(CHILDREN)};
const tie = ${track} ? killWithParent : (c) => c;
const kids = [0, 1].map(() => tie(spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })));
console.log(kids.map((k) => k.pid).join(' '));
setInterval(() => {}, 1000);
`,
  );
  const p = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const children = new Promise<number[]>((resolve) => p.stdout.once('data', (d: Buffer) => resolve(String(d).trim().split(' ').map(Number))));
  const exited = new Promise<number | null>((resolve) => p.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGTERM' ? 143 : null))));
  return { pid: p.pid!, children, exited };
}

describe('children stop with their parent', () => {
  it('SIGTERM to the parent stops every tracked child, and the parent exits 143', async () => {
    const p = parent(true);
    const kids = await p.children;
    expect(kids.every(alive)).toBe(true);
    process.kill(p.pid, 'SIGTERM');
    expect(await p.exited).toBe(143);
    await until('the children to stop', () => !kids.some(alive), 5000);
    expect(kids.some(alive)).toBe(false);
  }, 30_000);

  it('without it, the children outlive a killed parent (what the test above guards against)', async () => {
    const p = parent(false);
    const kids = await p.children;
    process.kill(p.pid, 'SIGTERM');
    await p.exited;
    await new Promise((r) => setTimeout(r, 300));
    expect(kids.every(alive)).toBe(true);
    kids.forEach((k) => process.kill(k, 'SIGKILL'));
  }, 30_000);
});
