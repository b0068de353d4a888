import type { Command } from 'commander';

/** Every `fedkd` command, in the order --help lists them. Each module adds one line here. */
export function registerCommands(program: Command): void {
  void program;
}
