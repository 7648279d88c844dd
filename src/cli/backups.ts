/** `tripod backups`: the cluster's etcd snapshots in S3 (time, size, revision, SHA-256). */
import type { AwsClients } from '../adapters/aws/clients.js';
import { createS3Backup, type S3Backup } from '../adapters/aws/s3-backup.js';
import { getParameter } from '../adapters/aws/ssm.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { configParameter } from '../contract/protocol.js';
import type { SnapshotInfo } from '../heal/backup-policy.js';
import type { ReconcilerConfig } from '../heal/config.js';
import { AWS_CREDENTIALS_NOTE, openAws } from './aws-options.js';
import { type CommandDef, choice, jsonDocument, type OptionDef, UserError, type Values } from './command.js';
import { awsCommandOptions, endpointAlias, formatOption, specArgument } from './options.js';

/** Options shared by `tripod backups` and `tripod restore`. */
export const backupOptions: OptionDef[] = [
  ...awsCommandOptions,
  {
    flags: '--bucket <name>',
    description: 'the backup bucket (default: the one in /tripod/<cluster>/config)',
  },
  endpointAlias,
];

export interface BackupContext {
  spec: ClusterSpec;
  aws: AwsClients;
  bucket: string;
  backup: S3Backup;
}

/** Loads the spec, connects to AWS and finds the backup bucket. The caller destroys `aws`. */
export async function openBackups(values: Values): Promise<BackupContext> {
  const { spec, aws } = openAws(values);
  try {
    let bucket = typeof values.bucket === 'string' ? values.bucket : undefined;
    if (!bucket) {
      const p = await getParameter(aws, configParameter(spec.name));
      if (!p) {
        throw new UserError(
          `cluster ${spec.name} has no configuration in ${spec.region} (${configParameter(spec.name)} not found): apply it first, or pass --bucket`,
        );
      }
      let config: Partial<ReconcilerConfig>;
      try {
        config = JSON.parse(p.value) as Partial<ReconcilerConfig>;
      } catch {
        throw new UserError(`${configParameter(spec.name)} is not valid JSON: pass --bucket`);
      }
      bucket = config.backupBucket;
      if (!bucket) {
        throw new UserError(`${configParameter(spec.name)} names no backup bucket: pass --bucket`);
      }
    }
    return { spec, aws, bucket, backup: createS3Backup({ s3: aws.s3, bucket, cluster: spec.name }) };
  } catch (e) {
    aws.destroy();
    throw e;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** The snapshot table, oldest first (pure). */
export function snapshotTable(snapshots: readonly SnapshotInfo[]): string {
  const rows = snapshots.map((s) => [
    new Date(s.time).toISOString(),
    formatBytes(s.size),
    String(s.revision),
    s.sha256 ? s.sha256.slice(0, 12) : 'INCOMPLETE (no manifest: never restored)',
    s.key,
  ]);
  const head = ['time', 'size', 'revision', 'sha256', 'key'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export const backupsCommand: CommandDef = {
  name: 'backups',
  summary: "list the cluster's etcd snapshots in S3",
  description: `Lists the etcd snapshots of the cluster, oldest first: time, size, etcd revision and SHA-256.
A snapshot without a recorded SHA-256 was never completed and is never restored.`,
  argument: specArgument,
  options: [...backupOptions, formatOption(['text', 'json'], { table: 'text' })],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 listed, 1 something to fix (no bucket, no access), 64 usage error.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'json'] as const, 'format');
    const ctx = await openBackups(values);
    try {
      const snapshots = await ctx.backup.list();
      if (format === 'json') {
        io.out(
          jsonDocument({
            cluster: ctx.spec.name,
            bucket: ctx.bucket,
            snapshots: snapshots.map((s) => ({ ...s, time: new Date(s.time).toISOString() })),
          }),
        );
      } else if (snapshots.length === 0) {
        io.out(`No snapshots of ${ctx.spec.name} in s3://${ctx.bucket}/${ctx.spec.name}/ yet.`);
      } else {
        io.out(`Snapshots of ${ctx.spec.name} in s3://${ctx.bucket}:\n\n${snapshotTable(snapshots)}`);
      }
      return 0;
    } finally {
      ctx.aws.destroy();
    }
  },
};
