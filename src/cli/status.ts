/**
 * `tripod status`: the Action's status report in a terminal (src/action/status-report.ts does the
 * judging and rendering for both). AWS is read now; etcd's facts come from the reconciler's status
 * document in SSM (this CLI cannot reach etcd inside the VPC), with its age.
 */
import { readClusterStatus } from '../action/engine-aws.js';
import { ActionError } from '../action/errors.js';
import { assessStatus, STATUS_EXIT, statusText, statusVerdict } from '../action/status-report.js';
import type { AwsClients } from '../adapters/aws/clients.js';
import { AwsApiError } from '../adapters/aws/errors.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { statusParameter } from '../contract/protocol.js';
import { AWS_CREDENTIALS_NOTE, openAws } from './aws-options.js';
import { type CommandDef, choice, type Io, jsonDocument, UsageError, UserError } from './command.js';
import { awsCommandOptions, formatOption, specArgument } from './options.js';

/** One look: the report (text or JSON) and its exit code. */
export async function statusOnce(
  aws: AwsClients,
  spec: ClusterSpec,
  format: 'text' | 'json',
  now = Date.now,
): Promise<{ text: string; exitCode: number }> {
  let status: Awaited<ReturnType<typeof readClusterStatus>>;
  try {
    status = await readClusterStatus(aws, spec);
  } catch (e) {
    if (e instanceof ActionError || e instanceof AwsApiError) throw new UserError(e.message);
    throw e;
  }
  const at = now();
  const assessment = assessStatus(status, deriveTopology(spec));
  const verdict = statusVerdict(status, assessment, at);
  const text =
    format === 'json'
      ? jsonDocument({
          state: verdict.state,
          exitCode: verdict.exitCode,
          reasons: verdict.reasons,
          quorum: status.quorum,
          healthyVoters: assessment.healthyVoters,
          quorumMargin: verdict.quorumMargin,
          survivesAnyZoneLoss: assessment.zones.every((z) => z.survivesLoss),
          zones: assessment.zones,
          statusDocument: {
            parameter: statusParameter(spec.name),
            at: status.statusAt ?? null,
            ageSeconds: verdict.statusAgeMs === undefined ? null : Math.round(verdict.statusAgeMs / 1000),
            stale: verdict.stale,
          },
          warnings: assessment.warnings,
          status,
        })
      : statusText(status, assessment, verdict, at, statusParameter(spec.name));
  return { text, exitCode: verdict.exitCode };
}

/**
 * Looks every `intervalMs` until `signal` aborts (Ctrl-C): each look replaces the last on a terminal;
 * with `json`, each look is one JSON document on stdout.
 * Returns the last look's exit code.
 */
export async function watchStatus(
  look: () => Promise<{ text: string; exitCode: number }>,
  io: Io,
  intervalMs: number,
  signal: AbortSignal,
  clear: boolean,
  json = false,
): Promise<number> {
  let code: number = STATUS_EXIT.healthy;
  while (!signal.aborted) {
    const r = await look();
    code = r.exitCode;
    const note = `(every ${intervalMs / 1000} s; Ctrl-C stops)`;
    // JSON: one document per look on stdout, nothing else (the note goes to stderr).
    if (json) {
      io.out(r.text);
      io.err(note);
    } else io.out(`${clear ? '\x1b[2J\x1b[H' : ''}${r.text}\n${note}`);
    await new Promise<void>((res) => {
      const t = setTimeout(res, intervalMs);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          res();
        },
        { once: true },
      );
    });
  }
  return code;
}

export const statusCommand: CommandDef = {
  name: 'status',
  summary: 'health of a running cluster: masters, etcd quorum, zone-loss survival, reconciler, backups',
  description: `The Action's status report in a terminal: masters (and warm pool instances) per zone, instance and API target health, etcd
members with health and leader, quorum margin, whether the cluster survives losing any zone now,
the reconciler's last passes and the last backup.

AWS (Auto Scaling, the API target group, the backup bucket) is read now. The CLI cannot reach etcd
inside the cluster's private network: etcd's facts are those of the reconciler's status document
(/tripod/<cluster>/status in SSM, published every pass, at least once a minute), shown with its
age. A document older than 3 minutes is stale, and that alone makes the cluster "degraded".`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    formatOption(['text', 'json']),
    { flags: '--watch', description: 'look again every --interval seconds until Ctrl-C' },
    {
      flags: '--interval <seconds>',
      description: 'the pause between looks with --watch (at least 2)',
      default: '10',
    },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 healthy, 1 degraded (or the cluster cannot be read), 3 etcd quorum lost, 64 usage error.
With --watch: the last look's.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'json'] as const, 'format');
    const interval = Number(values.interval);
    if (!Number.isFinite(interval) || interval < 2)
      throw new UsageError(
        `--interval must be a number of seconds, at least 2 (got ${JSON.stringify(values.interval)})`,
      );
    const { spec, aws } = openAws(values);
    try {
      const look = () => statusOnce(aws, spec, format);
      if (values.watch !== true) {
        const r = await look();
        io.out(r.text);
        return r.exitCode;
      }
      const stop = new AbortController();
      const onInt = () => stop.abort();
      process.once('SIGINT', onInt);
      try {
        return await watchStatus(
          look,
          io,
          interval * 1000,
          stop.signal,
          format === 'text' && process.stdout.isTTY === true,
          format === 'json',
        );
      } finally {
        process.off('SIGINT', onInt);
      }
    } finally {
      aws.destroy();
    }
  },
};
