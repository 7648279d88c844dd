/**
 * The environment settings the CLI reads, validated like flags: a bad value is a usage error (exit 64)
 * naming the variable, never a silent NaN. The table also writes the "Environment" part of docs/cli.md.
 */
import { UsageError } from './command.js';
import { parseUrl } from './options.js';

export interface EnvSetting {
  name: string;
  description: string;
  /** Throws UsageError when the value is not acceptable. */
  check?: (value: string) => void;
}

export const MAX_ATTEMPTS_LIMIT = 20;

export const ENV_SETTINGS: readonly EnvSetting[] = [
  {
    name: 'TRIPOD_AWS_MAX_ATTEMPTS',
    description: `attempts per AWS call, adaptive retry: a whole number from 1 to ${MAX_ATTEMPTS_LIMIT} (default 5)`,
    check: (v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_ATTEMPTS_LIMIT)
        throw new UsageError(
          `TRIPOD_AWS_MAX_ATTEMPTS must be a whole number from 1 to ${MAX_ATTEMPTS_LIMIT} (got ${JSON.stringify(v)})`,
        );
    },
  },
  {
    name: 'AWS_ENDPOINT_URL',
    description: 'AWS endpoint when --endpoint-url is not given: an http or https URL',
    check: (v) => {
      parseUrl(v, 'AWS_ENDPOINT_URL');
    },
  },
  { name: 'TRIPOD_DEBUG', description: 'set (to anything) to print the stack trace of an unexpected error' },
];

/** Checks every setting that is set; throws UsageError listing each bad one. */
export function checkEnv(env: NodeJS.ProcessEnv = process.env): void {
  const problems: string[] = [];
  for (const s of ENV_SETTINGS) {
    const v = env[s.name];
    if (v === undefined || v === '' || !s.check) continue;
    try {
      s.check(v);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
}

/** TRIPOD_AWS_MAX_ATTEMPTS, checked; undefined when not set. */
export function awsMaxAttempts(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.TRIPOD_AWS_MAX_ATTEMPTS;
  if (v === undefined || v === '') return undefined;
  ENV_SETTINGS[0]!.check!(v);
  return Number(v);
}
