/**
 * The shape every `tripod` command has (a declarative definition: program.ts turns it into a
 * commander command, docs.ts into docs/cli.md), and the errors the CLI turns into exit codes.
 */

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** The exit codes every command shares (a command may add its own, e.g. status's 3). */
export const EXIT = {
  ok: 0,
  failed: 1,
  /** Only `plan --detailed-exitcode`: there are changes. */
  changes: 2,
  /** The command line or an environment setting is wrong (BSD sysexits EX_USAGE). */
  usage: 64,
  /** A bug in tripod (EX_SOFTWARE). */
  bug: 70,
} as const;

/** Option values by long flag name (`endpoint-url`), after aliases and defaults are resolved. */
export type Values = Record<string, string | boolean | undefined>;

export interface OptionDef {
  /** Commander's flag syntax: `-f, --spec <file>`, `--watch`, `--format <format>`. */
  flags: string;
  description: string;
  default?: string | boolean;
  /** The values the option takes (checked, listed in the help). */
  choices?: readonly string[];
  /** Old values still accepted with a warning: old value -> the value it means now. */
  deprecatedValues?: Readonly<Record<string, string>>;
  /** Not shown in the help (internal options). */
  hidden?: boolean;
  /** A hidden, deprecated alias: given, it warns and sets `to` (to `value`, or to its own argument). */
  aliasOf?: { to: string; value?: string };
  /** Checks and normalises the argument; throw UsageError with the reason. */
  parse?: (value: string) => string;
}

export interface CommandDef {
  name: string;
  summary: string;
  /** Usage after `tripod <name>` (default: commander's `[options]` plus the argument). */
  usage?: string;
  /** The long description (preformatted when a line starts with blanks). */
  description: string;
  /** The optional positional argument: only the spec today (`tripod validate examples/x.yaml`). */
  argument?: { name: string; description: string };
  options: OptionDef[];
  /** Shown last in the help: notes and what each exit code means for this command. */
  footer: string;
  /** Returns the exit code. Throw UsageError for bad arguments, UserError for anything the user can fix. */
  run(values: Values, io: Io): Promise<number>;
}

/** Exit 64: the command line (or an environment setting) is wrong. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit 1 with the message only (no stack): something the user can fix. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** `value` as one of `allowed` (already checked by the option's choices; narrows the type). */
export function choice<T extends string>(value: unknown, allowed: readonly T[], flag: string): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

/** The version of every JSON document the CLI prints (`--format json`): see docs/cli.md. */
export const FORMAT_VERSION = 1;

/** A JSON document for stdout: `formatVersion` first, then `body`. */
export function jsonDocument(body: object): string {
  return JSON.stringify({ formatVersion: FORMAT_VERSION, ...body }, null, 2);
}
