import { Command } from 'commander';
import { registerCommands } from './commands/index.ts';

/** Builds the `fedkd` program with every command registered. */
export function buildProgram(): Command {
  const program = new Command('fedkd')
    .description('Federated knowledge distillation of small medical-imaging students')
    .version('0.1.0')
    .exitOverride();
  registerCommands(program);
  const seal = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(seal);
  };
  program.commands.forEach(seal);
  return program;
}
