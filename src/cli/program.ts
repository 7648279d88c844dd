/**
 * The command definitions (commands.ts) as a commander program: the one place flags are parsed, help
 * is formatted (for `--help` and docs/cli.md alike), deprecated aliases warn, and the spec argument
 * meets -f/--spec.
 */
import { Command, Help, InvalidArgumentError, Option } from 'commander';
import { VERSION } from '../version.js';
import { type CommandDef, type Io, type OptionDef, UsageError, type Values } from './command.js';
import { checkEnv } from './env.js';

/** Help is formatted at a fixed width, so `--help` and docs/cli.md are the same on every terminal. */
export const HELP_WIDTH = 100;

export const PROGRAM_DESCRIPTION = 'tripod: highly available Kubernetes on AWS from cluster.yaml';

const footers = new WeakMap<Command, string>();

function toOption(def: OptionDef, command: string, io: Io): Option {
  const o = new Option(def.flags, def.description);
  if (def.hidden || def.aliasOf) o.hideHelp();
  if (def.default !== undefined) o.default(def.default);
  const takesValue = o.required || o.optional;
  if (takesValue && (def.choices || def.parse)) {
    o.argParser((raw: string) => {
      let value = raw;
      const now = def.deprecatedValues?.[value];
      if (now !== undefined) {
        io.err(`tripod ${command}: ${o.long} ${value} is deprecated: use ${o.long} ${now}`);
        value = now;
      }
      try {
        if (def.choices && !def.choices.includes(value))
          throw new UsageError(`${o.long} must be one of ${def.choices.join(', ')}`);
        return def.parse ? def.parse(value) : value;
      } catch (e) {
        if (e instanceof UsageError) throw new InvalidArgumentError(e.message);
        throw e;
      }
    });
  }
  return o;
}

/** The options as the command's run() sees them: by long name, aliases folded in, the argument too. */
function resolveValues(def: CommandDef, cmd: Command, positional: string | undefined, io: Io): Values {
  const opts = cmd.opts();
  const values: Values = {};
  const explicit = new Set<string>();
  const options = cmd.options as readonly Option[];
  const defs = new Map(def.options.map((d, i) => [d, options[i]!] as const));
  for (const [d, o] of defs) {
    if (d.aliasOf) continue;
    values[o.name()] = opts[o.attributeName()] as string | boolean | undefined;
    if (cmd.getOptionValueSource(o.attributeName()) === 'cli') explicit.add(o.name());
  }
  const byName = new Map([...defs].filter(([d]) => !d.aliasOf).map(([, o]) => [o.name(), o] as const));
  for (const [d, o] of defs) {
    const given = opts[o.attributeName()] as string | boolean | undefined;
    if (!d.aliasOf || given === undefined) continue;
    const targetFlag = byName.get(d.aliasOf.to)?.long ?? `--${d.aliasOf.to}`;
    const value = d.aliasOf.value ?? given;
    io.err(
      `tripod ${def.name}: ${o.long} is deprecated: use ${targetFlag}${d.aliasOf.value ? ` ${d.aliasOf.value}` : ''}`,
    );
    if (explicit.has(d.aliasOf.to) && values[d.aliasOf.to] !== value)
      throw new UsageError(`${o.long} and ${targetFlag} disagree: give ${targetFlag} only`);
    values[d.aliasOf.to] = value;
    explicit.add(d.aliasOf.to);
  }
  if (positional !== undefined) {
    if (explicit.has('spec') && values.spec !== positional)
      throw new UsageError(`the spec is given twice (${positional} and -f ${values.spec}): give it once`);
    values.spec = positional;
  }
  return values;
}

/** Appends the command's exit codes (and the overview's closing line) to commander's help. */
class TripodHelp extends Help {
  constructor() {
    super();
    this.helpWidth = HELP_WIDTH;
    this.sortSubcommands = false;
    this.sortOptions = false;
  }
  override prepareContext(): void {
    this.helpWidth = HELP_WIDTH;
  }
  override formatHelp(cmd: Command, helper: Help): string {
    const footer = footers.get(cmd);
    return `${super.formatHelp(cmd, helper)}${footer ? `\n${footer}\n` : ''}`;
  }
}

export interface Program {
  program: Command;
  /** The commander command of each definition, by name. */
  commands: Map<string, Command>;
}

/**
 * The program for `defs`. `onRun` receives each run's exit code (commander's own parse errors,
 * help and version surface as CommanderError from parseAsync, since exitOverride is on).
 */
export function buildProgram(defs: readonly CommandDef[], io: Io, onRun: (code: number) => void): Program {
  const program = new Command('tripod')
    .description(PROGRAM_DESCRIPTION)
    .usage('<command> [options]')
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      // main.ts prints the error itself, with the command's name and a did-you-mean.
      outputError: () => {},
    })
    .helpOption('-h, --help', 'show this help')
    .helpCommand('help [command]', "show a command's help")
    .version(VERSION, '-v, --version', "print tripod's version");
  program.createHelp = () => new TripodHelp();
  footers.set(program, "Run `tripod <command> --help` for a command's options.");
  const commands = new Map<string, Command>();
  for (const def of defs) {
    const cmd = program.command(def.name).summary(def.summary).description(def.description);
    cmd.createHelp = () => new TripodHelp();
    if (def.usage) cmd.usage(def.usage);
    if (def.argument) cmd.argument(`[${def.argument.name}]`, def.argument.description);
    for (const o of def.options) cmd.addOption(toOption(o, def.name, io));
    footers.set(cmd, def.footer);
    cmd.action(async (...args: unknown[]) => {
      const positional = def.argument ? (args[0] as string | undefined) : undefined;
      const values = resolveValues(def, cmd, positional, io);
      checkEnv();
      onRun(await def.run(values, io));
    });
    commands.set(def.name, cmd);
  }
  return { program, commands };
}

/** `tripod <name> --help` as text, or the overview without a name. */
export function helpText(defs: readonly CommandDef[], name?: string): string {
  const { program, commands } = buildProgram(defs, { out: () => {}, err: () => {} }, () => {});
  const cmd = name === undefined ? program : commands.get(name);
  if (!cmd) throw new Error(`no command ${name}`);
  return cmd.helpInformation();
}
