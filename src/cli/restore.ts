/**
 * `tripod restore`: disaster recovery after etcd lost quorum. Plans (heal/restore.ts), verifies the
 * snapshot (download + SHA-256 + etcd's hash trailer) before changing anything, records the restore
 * in SSM (the reconciler stops membership changes; the seed restores from it) and shrinks the master
 * group to one. `--finish` grows the group back to M (learner joins) and clears the record.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeGroups, updateGroup } from '../adapters/aws/autoscaling.js';
import { BackupError } from '../adapters/aws/s3-backup.js';
import { deleteParameter, getParameter, putParameter } from '../adapters/aws/ssm.js';
import { restoreParameter } from '../heal/protocol.js';
import { describeRestoreStep, planRestore, RestoreError, type RestoreRecord } from '../heal/restore.js';
import { resourceNames } from '../provision/names.js';
import { deriveTopology } from '../spec/topology.js';
import { backupOptions, backupOptionsHelp, formatBytes, openBackups } from './backups.js';
import { type Command, UsageError, UserError } from './command.js';

const USABLE = new Set(['InService', 'Pending', 'Pending:Wait', 'Pending:Proceed']);

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore etcd from an S3 snapshot after quorum is lost (destructive)',
  help: `Usage: tripod restore [-f cluster.yaml] [--snapshot KEY] [--dry-run] --confirm CLUSTER
       tripod restore [-f cluster.yaml] --finish --confirm CLUSTER

Restores the cluster's etcd from a snapshot: the newest completed one, or the one named.
  1. verifies the snapshot (SHA-256 and etcd's hash trailer); a bad one stops here, nothing changed
  2. records the restore in /tripod/<cluster>/restore: the reconciler makes no membership change
     while it exists, and the seed master restores the snapshot into a new one-member etcd cluster
  3. shrinks the master group to 1 (the seed)
Once the seed serves, \`--finish\` grows the master group back to M (each new master joins as an
etcd learner and is promoted, one at a time) and removes the restore record.

Options:
${backupOptionsHelp}
      --snapshot KEY   the snapshot to restore (see \`tripod backups\`; default: the newest complete one)
      --confirm NAME   the cluster's name: required, this replaces the cluster's etcd data
      --dry-run        plan and verify the snapshot, change nothing
      --finish         grow the masters back to M and clear the restore record
  -h, --help           this help

Exit codes: 0 done, 1 refused (bad snapshot, wrong confirmation, restore in progress), 2 usage error.`,
  options: {
    ...backupOptions,
    snapshot: { type: 'string' },
    confirm: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    finish: { type: 'boolean', default: false },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    if (typeof values.confirm !== 'string' || values.confirm === '') {
      throw new UsageError(
        "--confirm <cluster name> is required: a restore replaces the cluster's etcd data",
      );
    }
    if (values.finish && values.snapshot) throw new UsageError('--finish takes no --snapshot');
    const ctx = await openBackups(values);
    const { spec, aws } = ctx;
    try {
      if (values.confirm !== spec.name) {
        throw new UserError(
          `--confirm ${values.confirm} does not match the cluster in ${values.file}: ${spec.name}`,
        );
      }
      const names = resourceNames(spec.name);
      const masters = deriveTopology(spec).masters;
      const existing = await getParameter(aws, restoreParameter(spec.name));

      if (values.finish) {
        if (!existing) throw new UserError(`no restore of ${spec.name} is in progress: nothing to finish`);
        await updateGroup(aws, names.masterGroup, { min: masters, desired: masters });
        io.out(`grew ${names.masterGroup} back to ${masters}: new masters join as learners, one at a time`);
        await deleteParameter(aws, restoreParameter(spec.name));
        io.out(`removed ${restoreParameter(spec.name)}: normal reconciling resumes`);
        return 0;
      }

      if (existing && !values['dry-run']) {
        const r = JSON.parse(existing.value) as RestoreRecord;
        throw new UserError(
          `a restore of ${spec.name} is already in progress (${r.key}, requested ${r.requestedAt}): finish it with --finish first`,
        );
      }
      const [group] = await describeGroups(aws, [names.masterGroup]);
      if (!group)
        throw new UserError(
          `cluster ${spec.name} has no master group ${names.masterGroup} in ${spec.region}`,
        );
      let plan: ReturnType<typeof planRestore>;
      try {
        plan = planRestore({
          cluster: spec.name,
          snapshots: await ctx.backup.list(),
          ...(typeof values.snapshot === 'string' ? { snapshotKey: values.snapshot } : {}),
          expectedMasters: masters,
          instances: group.instances.map((i, n) => ({
            instanceId: i.instanceId,
            usable: USABLE.has(i.lifecycleState),
            launchTime: n,
          })),
        });
      } catch (e) {
        if (e instanceof RestoreError) throw new UserError(e.message);
        throw e;
      }
      const s = plan.snapshot;
      io.out(
        `Restore ${spec.name} from s3://${ctx.bucket}/${s.key}\n  taken ${new Date(s.time).toISOString()}, revision ${s.revision}, ${formatBytes(s.size)}\n`,
      );
      io.out(plan.steps.map((step, i) => `  ${i + 1}. ${describeRestoreStep(step)}`).join('\n'));

      const dir = await mkdtemp(join(tmpdir(), 'tripod-restore-'));
      try {
        await ctx.backup.download(s.key, join(dir, 'snapshot.db'));
      } catch (e) {
        if (e instanceof BackupError) throw new UserError(`${e.message} Nothing was changed.`);
        throw e;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      io.out(`\nverified: ${formatBytes(s.size)}, SHA-256 ${s.sha256}, etcd hash trailer ok`);
      if (values['dry-run']) {
        io.out('dry run: nothing was changed');
        return 0;
      }

      const record: RestoreRecord = {
        bucket: ctx.bucket,
        key: s.key,
        sha256: s.sha256,
        revision: s.revision,
        seedInstanceId: plan.seedInstanceId,
        expectedMasters: masters,
        requestedAt: new Date().toISOString(),
      };
      await putParameter(aws, {
        name: restoreParameter(spec.name),
        value: JSON.stringify(record),
        tags: { 'tripod:cluster': spec.name },
        overwrite: false,
      });
      io.out(`recorded the restore in ${restoreParameter(spec.name)}: membership changes stop`);
      await updateGroup(aws, names.masterGroup, { min: 1, desired: 1 });
      io.out(`shrank ${names.masterGroup} to 1 (was ${group.desired})`);
      io.out(
        `\nNext: the seed restores the snapshot and starts a new one-member etcd cluster. When it serves, run\n  tripod restore -f ${values.file} --finish --confirm ${spec.name}`,
      );
      return 0;
    } finally {
      aws.destroy();
    }
  },
};
