/**
 * `tripod restore`: disaster recovery after etcd lost quorum. Refuses unless the reconciler's own
 * recent status says quorum has been lost for a while (the CLI cannot reach etcd in the private
 * subnets; the reconciler can and records its verdict every pass) or `--force`. Plans
 * (heal/restore.ts), verifies the snapshot (download + SHA-256 + etcd's hash trailer) before changing
 * anything, records the restore in SSM, protects the seed from scale-in and shrinks the master group
 * to one. The reconciler then lets the old masters go, publishes the seed's restore join (the seed
 * restores on its own) and, once the seed serves and the group is back to M, clears the record.
 * `--finish` grows the group back (refused until the seed serves); `--cancel` undoes a restore that
 * has not started on the seed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeGroups, setInstanceProtection, updateGroup } from '../adapters/aws/autoscaling.js';
import { BackupError } from '../adapters/aws/s3-backup.js';
import { deleteParameter, getParameter, putParameter } from '../adapters/aws/ssm.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import { restoreParameter, statusParameter } from '../contract/protocol.js';
import {
  describeRestoreStep,
  planRestore,
  RestoreError,
  type RestoreRecord,
  type RestoreStatusView,
  restoreRefusal,
  restoreStage,
} from '../heal/restore.js';
import { parseStatus } from '../heal/status.js';
import { AWS_CREDENTIALS_NOTE } from './aws-options.js';
import { backupOptions, formatBytes, openBackups } from './backups.js';
import { type CommandDef, UsageError, UserError } from './command.js';
import { specArgument } from './options.js';

const USABLE = new Set(['InService', 'Pending', 'Pending:Wait', 'Pending:Proceed']);

export const restoreCommand: CommandDef = {
  name: 'restore',
  summary: 'restore etcd from an S3 snapshot after quorum is lost (destructive)',
  usage: `[options] [spec] [--snapshot KEY] [--dry-run] [--force] --confirm CLUSTER
       tripod restore [options] [spec] --finish [--force] --confirm CLUSTER
       tripod restore [options] [spec] --cancel --confirm CLUSTER`,
  description: `Restores the cluster's etcd from a snapshot: the newest completed one, or the one named.
  0. refuses unless the reconciler's status (at most 3 min old) says etcd's quorum has been lost for
     at least 2 min (--force: restore anyway, e.g. to roll the data back)
  1. verifies the snapshot (SHA-256 and etcd's hash trailer); a bad one stops here, nothing changed
  2. records the restore in /tripod/<cluster>/restore: the reconciler makes no membership change
     while it exists and lets the old masters go only while quorum is lost
  3. protects the seed (the longest-running master) from scale-in and shrinks the master group to 1
The reconciler then has the seed restore the snapshot into a new one-member etcd cluster. Once the
seed serves (\`tripod status\`), \`--finish\` grows the master group back to M: the reconciler clears
the record and each new master joins as an etcd learner and is promoted, one at a time.`,
  argument: specArgument,
  options: [
    ...backupOptions,
    {
      flags: '--snapshot <key>',
      description: 'the snapshot to restore (see `tripod backups`; default: the newest complete one)',
    },
    {
      flags: '--confirm <name>',
      description: "the cluster's name: required, this replaces the cluster's etcd data",
    },
    {
      flags: '--force',
      description: 'skip the quorum check (and, with --finish, the seed-serves check)',
    },
    { flags: '--dry-run', description: 'check quorum, plan and verify the snapshot, change nothing' },
    { flags: '--finish', description: 'grow the masters back to M once the seed serves the restored data' },
    {
      flags: '--cancel',
      description: 'remove the restore record and grow the group back (before the seed restored)',
    },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 done, 1 refused (quorum not lost, bad snapshot, wrong confirmation, restore in
progress, seed not serving yet), 64 usage error.`,
  async run(values, io) {
    if (typeof values.confirm !== 'string' || values.confirm === '') {
      throw new UsageError(
        "--confirm <cluster name> is required: a restore replaces the cluster's etcd data",
      );
    }
    if (values.finish && values.snapshot) throw new UsageError('--finish takes no --snapshot');
    if (values.finish && values.cancel) throw new UsageError('--finish and --cancel exclude each other');
    if (values.cancel && values.snapshot) throw new UsageError('--cancel takes no --snapshot');
    const force = values.force === true;
    const ctx = await openBackups(values);
    const { spec, aws } = ctx;
    try {
      if (values.confirm !== spec.name) {
        throw new UserError(
          `--confirm ${values.confirm} does not match the cluster in ${values.spec}: ${spec.name}`,
        );
      }
      const names = resourceNames(spec.name);
      const masters = deriveTopology(spec).masters;
      const existing = await getParameter(aws, restoreParameter(spec.name));
      const readStatus = async (): Promise<RestoreStatusView | undefined> => {
        const p = await getParameter(aws, statusParameter(spec.name));
        return p ? parseStatus(p.value) : undefined;
      };
      const record = existing ? (JSON.parse(existing.value) as RestoreRecord) : undefined;
      const unprotectSeed = async (seed: string | undefined) => {
        if (!seed) return;
        const [g] = await describeGroups(aws, [names.masterGroup]);
        if (g?.instances.some((i) => i.instanceId === seed)) {
          await setInstanceProtection(aws, names.masterGroup, [seed], false);
          io.out(`lifted the scale-in protection of ${seed}`);
        }
      };

      if (values.finish) {
        if (!record) throw new UserError(`no restore of ${spec.name} is in progress: nothing to finish`);
        const stage = restoreStage(await readStatus(), record.requestedAt);
        if (stage !== 'serving' && !force) {
          throw new UserError(
            `the seed does not serve the restored data yet (${stage === 'shrinking' ? 'the group is shrinking to the seed' : 'the seed is restoring'}): wait, then run --finish again (tripod status shows the reconciler's view)`,
          );
        }
        await updateGroup(aws, names.masterGroup, { min: masters, desired: masters });
        await unprotectSeed(record.seedInstanceId);
        io.out(
          `grew ${names.masterGroup} back to ${masters}: the reconciler clears ${restoreParameter(spec.name)}, then new masters join as learners, one at a time`,
        );
        return 0;
      }

      if (values.cancel) {
        if (!record) throw new UserError(`no restore of ${spec.name} is in progress: nothing to cancel`);
        const stage = restoreStage(await readStatus(), record.requestedAt);
        if (stage !== 'shrinking' && !force) {
          throw new UserError(
            `the seed already ${stage === 'serving' ? 'serves the restored data' : 'restores the snapshot'}: finish with --finish (or --cancel --force)`,
          );
        }
        await deleteParameter(aws, restoreParameter(spec.name));
        io.out(`removed ${restoreParameter(spec.name)}: the reconciler resumes normal healing`);
        await updateGroup(aws, names.masterGroup, { min: masters, desired: masters });
        await unprotectSeed(record.seedInstanceId);
        io.out(`set ${names.masterGroup} back to ${masters}`);
        return 0;
      }

      if (record && !values['dry-run']) {
        throw new UserError(
          `a restore of ${spec.name} is already in progress (${record.key}, requested ${record.requestedAt}): finish it with --finish (or --cancel) first`,
        );
      }
      const refused = restoreRefusal(await readStatus(), Date.now());
      if (refused && !force && values['dry-run']) {
        io.out(`a restore would be refused: ${refused} (without --force)`);
      } else if (refused && !force) {
        throw new UserError(
          `refusing to restore ${spec.name}: ${refused}. A restore replaces etcd's data; if you are sure (the reconciler cannot reach etcd, or you roll the data back on purpose), add --force`,
        );
      }
      if (force && refused) io.out(`--force: restoring although ${refused}`);
      else if (!refused) io.out('quorum is lost (the reconciler says so)');
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

      const next: RestoreRecord = {
        bucket: ctx.bucket,
        key: s.key,
        sha256: s.sha256,
        revision: s.revision,
        seedInstanceId: plan.seedInstanceId,
        expectedMasters: masters,
        requestedAt: new Date().toISOString(),
        ...(force ? { force: true } : {}),
      };
      await putParameter(aws, {
        name: restoreParameter(spec.name),
        value: JSON.stringify(next),
        tags: { 'tripod:cluster': spec.name },
        overwrite: false,
      });
      io.out(`recorded the restore in ${restoreParameter(spec.name)}: membership changes stop`);
      if (plan.seedInstanceId) {
        await setInstanceProtection(aws, names.masterGroup, [plan.seedInstanceId], true);
        io.out(`protected the seed ${plan.seedInstanceId} from scale-in`);
      }
      await updateGroup(aws, names.masterGroup, { min: 1, desired: 1 });
      io.out(`shrank ${names.masterGroup} to 1 (was ${group.desired})`);
      io.out(
        `\nNext: the reconciler lets the other masters go, then the seed restores the snapshot and starts a new one-member etcd cluster (tripod status: one member, ${plan.seedInstanceId ?? 'the seed'}, leader). Then run\n  tripod restore -f ${values.spec} --finish --confirm ${spec.name}`,
      );
      return 0;
    } finally {
      aws.destroy();
    }
  },
};
