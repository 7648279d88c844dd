/** `tripod`: the command-line entry point. Thin: parse arguments, run a command, map errors to exit codes. */
import { type Command, type Io, parseCommandArgs, processIo, UsageError, UserError } from './command.js';
import { commands } from './commands.js';

export const VERSION = '0.1.0';

function overview(all: Command[]): string {
  const width = Math.max(...all.map((c) => c.name.length));
  return [
    'tripod: highly available Kubernetes on AWS from cluster.yaml',
    '',
    'Usage: tripod <command> [options]',
    '',
    'Commands:',
    ...all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `tripod <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], io: Io = processIo, all: Command[] = commands): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(overview(all));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.out(VERSION);
    return 0;
  }
  const cmd = all.find((c) => c.name === name);
  if (!cmd) {
    io.err(`tripod: unknown command "${name}"\n\n${overview(all)}`);
    return 2;
  }
  try {
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      io.out(cmd.help);
      return 0;
    }
    return await cmd.run(values, positionals, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tripod ${cmd.name}: ${e.message}`);
      return 2;
    }
    if (e instanceof UserError) {
      io.err(`tripod ${cmd.name}: ${e.message}`);
      return e.exitCode;
    }
    const err = e as Error;
    io.err(`tripod ${cmd.name}: unexpected error: ${err.message}`);
    if (process.env.TRIPOD_DEBUG) io.err(String(err.stack));
    else io.err('(this is a bug in tripod; set TRIPOD_DEBUG=1 for the stack trace)');
    return 70;
  }
}
