/**
 * The `quiver` command line. One file per command group under ./commands; this file only wires
 * them together and turns errors into one clear line with a code.
 */
import { Command, CommanderError } from 'commander';
import { isQuiverError } from '../errors.js';
import { registerCollectionCommands } from './commands/collections.js';
import { registerEmbedCommands } from './commands/embed.js';
import { registerEvalCommands } from './commands/eval.js';
import { registerServeCommands } from './commands/serve.js';
import { registerIdsCommands } from './commands/ids.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('quiver')
    .description(
      'Search engine built around universal (E5-family) embeddings: BM25, dense, hybrid, evaluation.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCollectionCommands(program);
  registerEmbedCommands(program);
  registerEvalCommands(program);
  registerServeCommands(program);
  registerIdsCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit "successfully" through the same path.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isQuiverError(e)) {
      process.stderr.write(`quiver: ${e.toLine()}\n`);
      return 1;
    }
    process.stderr.write(
      `quiver: error INTERNAL: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 1;
  }
}
