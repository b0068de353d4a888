import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/**
 * A command module: `cli/commands/NAME.ts` exporting `register(program)`. Modules named
 * `bench-*.ts` export `register(bench)` and add a subcommand under `fedkd bench`.
 */
export interface CommandModule {
  register(parent: Command): void;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** Registers every command module in this folder, in file-name order, so modules never edit a shared list. */
export async function registerCommands(program: Command): Promise<void> {
  const files = readdirSync(here)
    .filter((f) => /\.ts$/.test(f) && f !== 'index.ts' && !f.endsWith('.test.ts'))
    .sort();
  const bench = program.command('bench').description('benchmarks that print JSON figures');
  for (const f of files) {
    const mod = (await import(path.join(here, f))) as Partial<CommandModule>;
    if (typeof mod.register !== 'function') continue;
    mod.register(f.startsWith('bench-') ? bench : program);
  }
}
