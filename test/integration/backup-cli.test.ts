/**
 * `tripod backups` and `tripod restore` against moto (S3, SSM, Auto Scaling): listing, the
 * confirmation, refusing a corrupt snapshot with nothing changed, dry run, the restore record and
 * the master group shrinking to one, `--finish` growing it back. Issue 14 finding 6: the restore
 * refuses unless the reconciler's recent status says quorum is lost (or --force), protects the seed
 * from scale-in, `--finish` waits for the seed to serve, and the record is the reconciler's to clear.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeGroups } from '../../src/adapters/aws/autoscaling.js';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';
import { createS3Backup } from '../../src/adapters/aws/s3-backup.js';
import { deleteParameter, getParameter, putParameter } from '../../src/adapters/aws/ssm.js';
import { configParameter, restoreParameter, statusParameter } from '../../src/contract/protocol.js';
import type { QuorumMemory } from '../../src/heal/observed.js';
import { STATUS_VERSION } from '../../src/heal/status.js';
import { cli } from '../support/cli.js';
import { minimalSpec } from '../support/spec-text.js';

const REGION = 'ap-south-1';
const name = `cli${Date.now().toString(36)}${process.pid % 1000}`.slice(0, 20);
const bucket = `tripod-${name}-backups`;
let aws: AwsClients;
let dir: string;
let specFile: string;
let endpoint: string;
const keys: string[] = [];

function etcdLike(size: number): Buffer {
  const body = randomBytes(size);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

const withSpec = (...argv: string[]) => [...argv, '-f', specFile, '--endpoint-url', endpoint];

const desired = async () => (await describeGroups(aws, [`${name}-masters`]))[0]?.desired;
const protectedIds = async () =>
  (
    await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [`${name}-masters`] }),
    )
  ).AutoScalingGroups?.[0]?.Instances?.filter((i) => i.ProtectedFromScaleIn).map((i) => i.InstanceId) ?? [];

/** The reconciler's status document, as a pass publishes it (only what the restore reads matters). */
async function status(opts: {
  ageMs?: number;
  quorum?: QuorumMemory;
  members?: Array<{ id: string; name: string; healthy: boolean; leader?: true }>;
  restore?: { requestedAt: string; seedInstanceId?: string; publishedAt?: number };
}) {
  const at = Date.now() - (opts.ageMs ?? 10_000);
  await putParameter(aws, {
    name: statusParameter(name),
    value: JSON.stringify({
      version: STATUS_VERSION,
      cluster: name,
      at: new Date(at).toISOString(),
      conditions: {},
      members: opts.members ?? [],
      zones: {},
      targets: [],
      waits: [],
      lastActions: [],
      memory: {
        unhealthySince: {},
        ...(opts.quorum ? { quorum: opts.quorum } : {}),
        ...(opts.restore ? { restore: opts.restore } : {}),
      },
    }),
    tags: {},
    overwrite: true,
  });
}
const lost = (forMs: number): QuorumMemory => ({
  state: 'lost',
  since: Date.now() - forMs,
  why: 'no voter reports a leader (1 of 3 answer)',
});

beforeAll(async () => {
  endpoint = inject('motoEndpoint');
  process.env.TRIPOD_AWS_MAX_ATTEMPTS = '1';
  aws = createAwsClients({ region: REGION, endpoint, maxAttempts: 1 });
  dir = mkdtempSync(join(tmpdir(), 'tripod-backup-cli-'));
  specFile = join(dir, 'cluster.yaml');
  writeFileSync(specFile, minimalSpec({ name, region: REGION }));
  await aws.s3.send(
    new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
  await putParameter(aws, {
    name: configParameter(name),
    value: JSON.stringify({ cluster: name, backupBucket: bucket }),
    tags: {},
    overwrite: false,
  });
  const lt = await aws.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: `${name}-masters`,
      LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
    }),
  );
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: `${name}-masters`,
      MinSize: 3,
      MaxSize: 4,
      DesiredCapacity: 3,
      AvailabilityZones: [`${REGION}a`],
      LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate?.LaunchTemplateId, Version: '$Default' },
    }),
  );
});

afterAll(() => {
  aws?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tripod backups', () => {
  it('says when there are none, then lists time, size and revision', async () => {
    const empty = await cli(...withSpec('backups'));
    expect(empty.code).toBe(0);
    expect(empty.out).toMatch(/No snapshots of .* yet/);

    let t = Date.UTC(2026, 4, 1, 8, 0, 0);
    const rev = [100, 250];
    for (const r of rev) {
      const b = createS3Backup({
        s3: aws.s3,
        bucket,
        cluster: name,
        now: () => t,
        source: {
          revision: async () => r,
          async *snapshot() {
            yield etcdLike(2048 * r);
          },
        },
      });
      keys.push((await b.snapshot('https://127.0.0.1:2379', 'scheduled')).key);
      t += 15 * 60_000;
    }
    const listed = await cli(...withSpec('backups'));
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('2026-05-01T08:00:00.000Z  200.0 KiB       100');
    expect(listed.out).toContain('2026-05-01T08:15:00.000Z  500.0 KiB       250');
    const json = JSON.parse((await cli(...withSpec('backups', '--format', 'json'))).out);
    expect(json.snapshots.map((s: { revision: number }) => s.revision)).toEqual([100, 250]);
    expect(json.bucket).toBe(bucket);
  });

  it('names what is missing when there is no configuration', async () => {
    const other = join(dir, 'other.yaml');
    writeFileSync(other, minimalSpec({ name: 'nobody', region: REGION, cidr: '10.0.0.0/16', zones: 1 }));
    // --endpoint: the old spelling of --endpoint-url, still accepted with a warning.
    const r = await cli('backups', '-f', other, '--endpoint', endpoint);
    expect(r.code).toBe(1);
    expect(r.err).toContain('tripod backups: --endpoint is deprecated: use --endpoint-url');
    expect(r.err).toMatch(/cluster nobody has no configuration in ap-south-1 .*pass --bucket/);
  });

  it('has --help', async () => {
    expect((await cli('backups', '--help')).out).toMatch(/^Usage: tripod backups/);
    expect((await cli('restore', '--help')).out).toMatch(/^Usage: tripod restore/);
  });
});

describe('tripod restore', () => {
  beforeAll(() => status({ quorum: lost(300_000) }));

  it('requires the cluster name as confirmation', async () => {
    const none = await cli(...withSpec('restore'));
    expect(none.code).toBe(64);
    expect(none.err).toMatch(/--confirm <cluster name> is required/);
    const wrong = await cli(...withSpec('restore', '--confirm', 'prod'));
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/--confirm prod does not match the cluster in .*cluster\.yaml: /);
  });

  it('refuses a corrupt snapshot and changes nothing', async () => {
    await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[0], Body: etcdLike(1000) }));
    const r = await cli(...withSpec('restore', '--snapshot', keys[0]!, '--confirm', name));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is corrupt: .*Refusing to use it\. Nothing was changed\./);
    expect(await getParameter(aws, restoreParameter(name))).toBeUndefined();
    expect(await desired()).toBe(3);
  });

  it('refuses a snapshot that does not exist', async () => {
    const r = await cli(...withSpec('restore', '--snapshot', `${name}/nope.db`, '--confirm', name));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/does not exist/);
  });

  it('plans and verifies in a dry run, changing nothing', async () => {
    const r = await cli(...withSpec('restore', '--dry-run', '--confirm', name));
    expect(r.code).toBe(0);
    expect(r.out).toContain(keys[1]);
    expect(r.out).toMatch(/verified: .*etcd hash trailer ok/);
    expect(r.out).toMatch(/dry run: nothing was changed/);
    expect(await getParameter(aws, restoreParameter(name))).toBeUndefined();
    expect(await desired()).toBe(3);
  });

  it('refuses unless the reconciler reports quorum lost long enough, changing nothing (finding 6)', async () => {
    const cases: Array<[Parameters<typeof status>[0] | undefined, RegExp]> = [
      [undefined, /has published no status/],
      [
        { quorum: { state: 'held', since: Date.now() - 600_000, why: '3 of 3 voters serve' } },
        /quorum held: 3 of 3/,
      ],
      [{ quorum: { state: 'unknown', since: Date.now() - 600_000, why: 'timed out' } }, /quorum unknown/],
      [{ quorum: lost(30_000) }, /lost for only 3\d s .*wait until 120 s/],
      [{ quorum: lost(600_000), ageMs: 600_000 }, /status is 600 s old/],
    ];
    for (const [doc, why] of cases) {
      if (doc) await status(doc);
      else await deleteParameter(aws, statusParameter(name)).catch(() => {});
      const r = await cli(...withSpec('restore', '--confirm', name));
      expect(r.code, String(why)).toBe(1);
      expect(r.err).toMatch(why);
      expect(r.err).toMatch(/add --force/);
      expect(await getParameter(aws, restoreParameter(name))).toBeUndefined();
      expect(await desired()).toBe(3);
    }
    await status({ quorum: lost(300_000) });
  });

  it('records the restore, protects the seed and shrinks to one; --finish waits for the seed to serve', async () => {
    await status({ quorum: lost(300_000) });
    const r = await cli(...withSpec('restore', '--confirm', name));
    expect(r.code).toBe(0);
    const record = JSON.parse((await getParameter(aws, restoreParameter(name)))?.value ?? '{}');
    expect(record).toMatchObject({ bucket, key: keys[1], revision: 250, expectedMasters: 3 });
    expect(record.force).toBeUndefined();
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await desired()).toBe(1);
    expect(record.seedInstanceId).toMatch(/^i-/);
    expect(await protectedIds()).toEqual([record.seedInstanceId]);

    const again = await cli(...withSpec('restore', '--confirm', name));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already in progress/);

    // The seed has not restored yet: --finish refuses.
    const early = await cli(...withSpec('restore', '--finish', '--confirm', name));
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/does not serve the restored data yet/);
    expect(await desired()).toBe(1);

    // The reconciler published the seed's restore join, and the seed serves alone.
    await status({
      quorum: { state: 'held', since: Date.now(), why: '1 of 1 voters serve' },
      members: [{ id: '77', name: record.seedInstanceId, healthy: true, leader: true }],
      restore: {
        requestedAt: record.requestedAt,
        seedInstanceId: record.seedInstanceId,
        publishedAt: Date.now() - 60_000,
      },
    });
    const fin = await cli(...withSpec('restore', '--finish', '--confirm', name));
    expect(fin.code).toBe(0);
    expect(await desired()).toBe(3);
    expect(await protectedIds()).toEqual([]);
    // The reconciler clears the record once it sees the group back to M (phases/restore.ts).
    expect(await getParameter(aws, restoreParameter(name))).toBeDefined();
    await deleteParameter(aws, restoreParameter(name));
  });

  it('--force restores without the quorum check and says so in the record; --cancel undoes it', async () => {
    await deleteParameter(aws, statusParameter(name)).catch(() => {});
    const r = await cli(...withSpec('restore', '--force', '--confirm', name));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--force: restoring although the reconciler has published no status/);
    const record = JSON.parse((await getParameter(aws, restoreParameter(name)))?.value ?? '{}');
    expect(record.force).toBe(true);
    expect(await desired()).toBe(1);
    const cancel = await cli(...withSpec('restore', '--cancel', '--confirm', name));
    expect(cancel.code).toBe(0);
    expect(await getParameter(aws, restoreParameter(name))).toBeUndefined();
    expect(await desired()).toBe(3);
    expect(await protectedIds()).toEqual([]);
  });
});
