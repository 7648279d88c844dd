/** `tripod`: the command-line entry point. Thin: parse arguments (program.ts), run a command, map errors to exit codes. */
import { CommanderError } from 'commander';
import { closestMatch } from '../cluster-spec/did-you-mean.js';
import { type CommandDef, EXIT, type Io, processIo, UsageError, UserError } from './command.js';
import { commands } from './commands.js';
import { buildProgram } from './program.js';

/** Commander's message for a parse error, with our did-you-mean (src/cluster-spec/did-you-mean.ts, as the spec's). */
function usageMessage(e: CommanderError, known: { commands: string[]; flags: string[] }): string {
  let message = e.message.replace(/^error: /, '');
  const unknownOption = /^unknown option '([^']+)'/.exec(message);
  const unknownCommand = /^unknown command '([^']+)'/.exec(message);
  const guess = unknownOption
    ? closestMatch(unknownOption[1]!.replace(/=.*$/, ''), known.flags)
    : unknownCommand
      ? closestMatch(unknownCommand[1]!, known.commands)
      : undefined;
  if (guess) message += `: did you mean ${guess}?`;
  return message;
}

export async function main(
  argv: string[],
  io: Io = processIo,
  all: CommandDef[] = commands,
): Promise<number> {
  let code: number = EXIT.ok;
  const { program, commands: built } = buildProgram(all, io, (c) => {
    code = c;
  });
  const name = all.find((c) => c.name === argv[0])?.name;
  const prefix = `tripod${name ? ` ${name}` : ''}`;
  const helpHint = `Run \`${prefix} --help\` for ${name ? 'its options' : 'the commands'}.`;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return EXIT.ok; // --help, --version, help
      // `tripod` alone: commander printed the overview to stderr.
      if (e.code !== 'commander.help') {
        const cmd = name ? built.get(name) : undefined;
        const flags = (cmd?.options ?? [])
          .filter((o) => !o.hidden && o.long)
          .map((o) => o.long!)
          .concat('--help');
        io.err(`${prefix}: ${usageMessage(e, { commands: all.map((c) => c.name), flags })}\n${helpHint}`);
      }
      return EXIT.usage;
    }
    if (e instanceof UsageError) {
      io.err(`${prefix}: ${e.message}\n${helpHint}`);
      return EXIT.usage;
    }
    if (e instanceof UserError) {
      io.err(`${prefix}: ${e.message}`);
      return e.exitCode;
    }
    const err = e as Error;
    io.err(`${prefix}: unexpected error: ${err.message}`);
    if (process.env.TRIPOD_DEBUG) io.err(String(err.stack));
    else io.err('(this is a bug in tripod; set TRIPOD_DEBUG=1 for the stack trace)');
    return EXIT.bug;
  }
}
