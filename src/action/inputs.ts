/**
 * The action's inputs, parsed and validated in one place. Every problem is reported at once, each
 * naming the input and what it accepts; nothing here touches the runner (the reader is passed in).
 */

export const COMMANDS = ['plan', 'apply', 'status', 'upgrade', 'destroy'] as const;
export type ActionCommand = (typeof COMMANDS)[number];

export interface ActionInputs {
  command: ActionCommand;
  /** Path of the cluster spec. */
  spec: string;
  /** Region asked for explicitly (must equal the spec's), or undefined. */
  awsRegion: string | undefined;
  allowDestructive: boolean;
  commentOnPr: boolean;
  /** May be empty when no comment is wanted. */
  githubToken: string;
  timeoutMinutes: number;
  confirmDestroy: string;
  /** command upgrade: roll the upgrade in progress back. */
  abort: boolean;
  /** command plan: where to write the saved plan (undefined: the runner's temp directory). */
  planFile: string | undefined;
  /** command apply/upgrade: the saved plan that was reviewed; apply refuses a different one. */
  approvedPlan: string | undefined;
  /** command apply/upgrade: apply even when the fresh plan differs from approved-plan. */
  allowPlanDrift: boolean;
}

export class InputError extends Error {
  override name = 'InputError';
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `Invalid input: ${problems[0]}`
        : `Invalid inputs:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

const TRUE = ['true', 'yes', 'on', '1'];
const FALSE = ['false', 'no', 'off', '0'];

/** Event names on which a pull-request comment makes sense (and on which `auto` means true). */
export const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target'];

/**
 * @param read returns the raw value of an input ('' when unset), as `core.getInput` does.
 * @param eventName GITHUB_EVENT_NAME, for comment-on-pr's `auto`.
 */
export function parseInputs(read: (name: string) => string, eventName: string): ActionInputs {
  const problems: string[] = [];
  const get = (name: string) => read(name).trim();

  const rawCommand = get('command') || 'plan';
  const command = (COMMANDS as readonly string[]).includes(rawCommand)
    ? (rawCommand as ActionCommand)
    : undefined;
  if (!command) problems.push(`command: must be one of ${COMMANDS.join(', ')} (got "${rawCommand}")`);

  const bool = (name: string, fallback: boolean, extra: Record<string, boolean> = {}): boolean => {
    const v = get(name).toLowerCase();
    if (v === '') return fallback;
    if (v in extra) return extra[v]!;
    if (TRUE.includes(v)) return true;
    if (FALSE.includes(v)) return false;
    const allowed = ['true', 'false', ...Object.keys(extra)].join(', ');
    problems.push(`${name}: must be ${allowed} (got "${get(name)}")`);
    return fallback;
  };

  const onPr = PULL_REQUEST_EVENTS.includes(eventName);
  const allowDestructive = bool('allow-destructive', false);
  const abort = bool('abort', false);
  if (abort && command !== undefined && command !== 'upgrade')
    problems.push(`abort: only used with command upgrade (command is ${rawCommand})`);
  const commentOnPr = bool('comment-on-pr', onPr, { auto: onPr });

  const rawTimeout = get('timeout-minutes');
  let timeoutMinutes = 45;
  if (rawTimeout !== '') {
    const n = Number(rawTimeout);
    if (!Number.isFinite(n) || n <= 0 || n > 360)
      problems.push(`timeout-minutes: must be a number of minutes between 0 and 360 (got "${rawTimeout}")`);
    else timeoutMinutes = n;
  }

  const awsRegion = get('aws-region') || undefined;
  if (awsRegion && !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(awsRegion))
    problems.push(`aws-region: "${awsRegion}" is not an AWS region name (like eu-west-1)`);

  const spec = get('spec') || 'cluster.yaml';
  const confirmDestroy = get('confirm-destroy');
  if (confirmDestroy && command !== 'destroy')
    problems.push(`confirm-destroy: only used with command destroy (command is ${rawCommand})`);

  const planFile = get('plan-file') || undefined;
  if (planFile && command !== undefined && command !== 'plan')
    problems.push(
      `plan-file: only used with command plan (command is ${rawCommand}); apply takes approved-plan`,
    );
  const approvedPlan = get('approved-plan') || undefined;
  const allowPlanDrift = bool('allow-plan-drift', false);
  const applies = command === 'apply' || command === 'upgrade';
  if (approvedPlan && command !== undefined && !applies)
    problems.push(`approved-plan: only used with command apply or upgrade (command is ${rawCommand})`);
  if (approvedPlan && abort)
    problems.push('approved-plan: not used with abort (an abort applies nothing, it rolls back)');
  if (allowPlanDrift && !approvedPlan)
    problems.push(
      'allow-plan-drift: only used with approved-plan (there is no approved plan to differ from)',
    );

  if (problems.length > 0 || !command) throw new InputError(problems);
  return {
    command,
    spec,
    awsRegion,
    allowDestructive,
    commentOnPr,
    githubToken: get('github-token'),
    timeoutMinutes,
    confirmDestroy,
    abort,
    planFile,
    approvedPlan,
    allowPlanDrift,
  };
}
