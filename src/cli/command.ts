/** The shape every `tripod` command has, and the errors the CLI turns into exit codes. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  /** Usage line(s) and option help shown by `--help`. */
  help: string;
  options: Options;
  /** Returns the exit code. Throw UsageError for bad arguments, UserError for anything the user can fix. */
  run(
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
    io: Io,
  ): Promise<number>;
}

/** Exit 2: the command line itself is wrong. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit 1 with the message only (no stack): something the user can fix. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function parseCommandArgs(cmd: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...cmd.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${cmd.help}`);
  }
}

export function choice<T extends string>(value: unknown, allowed: readonly T[], flag: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}
