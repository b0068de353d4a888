import { CommanderError } from 'commander';
import { isUserError } from '../core/errors.ts';
import { buildProgram } from './program.ts';

/**
 * The `fedkd` entry point. A user's mistake (UserError, bad flag, unknown command) ends
 * in one line on stderr and exit code 2; a programming error crashes with its stack.
 */
async function main(): Promise<void> {
  try {
    await (await buildProgram()).parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    if (isUserError(e)) {
      process.stderr.write(`fedkd: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

await main();
