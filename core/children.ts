import type { ChildProcess } from 'node:child_process';
import os from 'node:os';

const live = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const c of live) c.kill('SIGTERM');
}

/**
 * Ties a child process's life to this one: when this process is stopped by SIGINT, SIGTERM
 * or SIGHUP, or exits, every tracked child still running gets SIGTERM. Without it a
 * `fedkd simulate` stopped by `kill` (not by Ctrl-C, which signals the whole process group)
 * left its coordinator listening with nobody to stop it. The signal handlers, installed with
 * the first child, exit with 128 + the signal's number, as the default action would.
 */
export function killWithParent<C extends ChildProcess>(child: C): C {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!installed) {
    installed = true;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(128 + (os.constants.signals[sig] ?? 0));
      });
    }
    process.once('exit', killAll);
  }
  return child;
}
