/**
 * The options several commands share, defined once: the same flag means the same thing everywhere.
 * A command lists the ones that apply to it; program.ts turns them into commander options.
 */
import { type OptionDef, UsageError } from './command.js';

export const DEFAULT_SPEC = 'cluster.yaml';

/** `-f, --spec FILE` (the spec may also be the command's argument). */
export const specOption: OptionDef = {
  flags: '-f, --spec <file>',
  description: 'the cluster spec; may also be given as the argument',
  default: DEFAULT_SPEC,
};

/** The positional form of --spec. */
export const specArgument = { name: 'spec', description: 'the cluster spec, as -f/--spec' };

/** Old spellings of -f/--spec: `--file` (every command but sandbox had it). */
export const fileAlias: OptionDef = {
  flags: '--file <file>',
  description: 'deprecated: use -f/--spec',
  aliasOf: { to: 'spec' },
};

export const regionOption: OptionDef = {
  flags: '--region <region>',
  description: "AWS region; must match the spec's region (default: the spec's)",
};

/** An http(s) URL, as AWS SDK endpoints are. */
export function parseUrl(value: string, what = '--endpoint-url'): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${what} must be an http or https URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${what} must be an http or https URL (got ${JSON.stringify(value)})`);
  return value;
}

export const endpointOption: OptionDef = {
  flags: '--endpoint-url <url>',
  description: 'AWS endpoint, e.g. a local moto server (default: AWS, or AWS_ENDPOINT_URL)',
  parse: (v) => parseUrl(v),
};

/** `--endpoint` (backups and restore had it). */
export const endpointAlias: OptionDef = {
  flags: '--endpoint <url>',
  description: 'deprecated: use --endpoint-url',
  aliasOf: { to: 'endpoint-url' },
  parse: (v) => parseUrl(v, '--endpoint'),
};

/** `--format` with the values that apply to the command, text first (the default). */
export function formatOption(
  values: readonly string[] = ['text', 'json', 'markdown'],
  deprecatedValues: Readonly<Record<string, string>> = {},
): OptionDef {
  const list =
    values.length === 2 ? values.join(' or ') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return {
    flags: '--format <format>',
    description: `output format: ${list}; json prints one JSON document (with formatVersion) on stdout`,
    default: values[0],
    choices: values,
    deprecatedValues,
  };
}

/** `--json` (sandbox had it). */
export const jsonAlias: OptionDef = {
  flags: '--json',
  description: 'deprecated: use --format json',
  aliasOf: { to: 'format', value: 'json' },
};

/** What the spec, region and endpoint options look like together for an AWS command. */
export const awsCommandOptions: OptionDef[] = [specOption, regionOption, endpointOption, fileAlias];
