import { Command } from 'commander';
import { registerCommands } from './commands/index.ts';

/** Builds the `fedkd` program with every command registered; every command exits through exitOverride. */
export async function buildProgram(): Promise<Command> {
  const program = new Command('fedkd')
    .description('Federated knowledge distillation of small medical-imaging students')
    .version('0.1.0');
  await registerCommands(program);
  const seal = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(seal);
  };
  seal(program);
  return program;
}
