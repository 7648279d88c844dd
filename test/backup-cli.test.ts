/**
 * `tripod backups` and `tripod restore` against moto (S3, SSM, Auto Scaling): listing, the
 * confirmation, refusing a corrupt snapshot with nothing changed, dry run, the restore record and
 * the master group shrinking to one, `--finish` growing it back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeGroups } from '../src/adapters/aws/autoscaling.js';
import { type AwsClients, createAwsClients } from '../src/adapters/aws/clients.js';
import { createS3Backup } from '../src/adapters/aws/s3-backup.js';
import { getParameter, putParameter } from '../src/adapters/aws/ssm.js';
import { main } from '../src/cli/main.js';
import { configParameter, restoreParameter } from '../src/heal/protocol.js';

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

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
  });
  return { code, out, err };
}
const withSpec = (...argv: string[]) => [...argv, '-f', specFile, '--endpoint', endpoint];

const desired = async () => (await describeGroups(aws, [`${name}-masters`]))[0]?.desired;

beforeAll(async () => {
  endpoint = inject('motoEndpoint');
  process.env.TRIPOD_AWS_MAX_ATTEMPTS = '1';
  aws = createAwsClients({ region: REGION, endpoint, maxAttempts: 1 });
  dir = mkdtempSync(join(tmpdir(), 'tripod-backup-cli-'));
  specFile = join(dir, 'cluster.yaml');
  writeFileSync(
    specFile,
    `apiVersion: tripod/v1
kind: Cluster
name: ${name}
region: ${REGION}
kubernetesVersion: 1.32.4
network:
  cidr: 10.40.0.0/16
  zones: [${REGION}a, ${REGION}b, ${REGION}c]
`,
  );
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
    writeFileSync(
      other,
      `apiVersion: tripod/v1\nkind: Cluster\nname: nobody\nregion: ${REGION}\nkubernetesVersion: 1.32.4\nnetwork:\n  cidr: 10.0.0.0/16\n  zones: [${REGION}a]\n`,
    );
    const r = await cli('backups', '-f', other, '--endpoint', endpoint);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cluster nobody has no configuration in ap-south-1 .*pass --bucket/);
  });

  it('has --help', async () => {
    expect((await cli('backups', '--help')).out).toMatch(/^Usage: tripod backups/);
    expect((await cli('restore', '--help')).out).toMatch(/^Usage: tripod restore/);
  });
});

describe('tripod restore', () => {
  it('requires the cluster name as confirmation', async () => {
    const none = await cli(...withSpec('restore'));
    expect(none.code).toBe(2);
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

  it('records the restore and shrinks the masters to one; --finish grows them back', async () => {
    const r = await cli(...withSpec('restore', '--confirm', name));
    expect(r.code).toBe(0);
    const record = JSON.parse((await getParameter(aws, restoreParameter(name)))?.value ?? '{}');
    expect(record).toMatchObject({ bucket, key: keys[1], revision: 250, expectedMasters: 3 });
    expect(record.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await desired()).toBe(1);

    const again = await cli(...withSpec('restore', '--confirm', name));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already in progress/);

    const fin = await cli(...withSpec('restore', '--finish', '--confirm', name));
    expect(fin.code).toBe(0);
    expect(await desired()).toBe(3);
    expect(await getParameter(aws, restoreParameter(name))).toBeUndefined();
  });
});
