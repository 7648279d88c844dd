/**
 * Issue 15, finding 4: the backup bucket's policy requires TLS and lets only the cluster's reconciler
 * and master roles at the snapshots. Evaluated by a real IAM policy evaluator (the bucket policy as
 * the resource policy, with an identity policy that allows everything: an administrator), and
 * managed against moto as a compared setting: written on create, read back equal, drift repaired.
 */
import { PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { findBackupBucket } from '../../src/adapters/aws/backup-bucket.js';
import {
  backupBucketPolicy,
  compareBackupBucket,
  desiredBackupBucket,
  ensureBackupBucket,
} from '../../src/provision/backup-bucket.js';
import { desiredCluster } from '../../src/provision/desired.js';
import { simSpec } from '../../src/sim/sim-spec.js';

const ACCOUNT = '123456789012';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const RECONCILER = role('tripod-pol-reconciler');
const MASTER = role('tripod-pol-master');
const CLUSTER_ADMIN = role('tripod-pol-admin');
const BUCKET = `tripod-pol-${ACCOUNT}-eu-north-1-backups`;
const policy = backupBucketPolicy({
  bucket: BUCKET,
  partition: 'aws',
  snapshotRoles: [RECONCILER, MASTER, CLUSTER_ADMIN],
});

const ADMIN_POLICY = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** Whether `principal` (whose own policy allows everything) may do `action`, with or without TLS. */
async function evaluate(principal: string, action: string, resource: string, tls = true) {
  const r = await runSimulation(
    {
      request: {
        principal,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:SecureTransport': String(tls), 'aws:PrincipalArn': principal },
      },
      identityPolicies: [{ name: 'admin', policy: ADMIN_POLICY }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
    },
    {},
  );
  if (r.resultType === 'error') throw new Error(r.errors.message);
  return r.overallResult;
}

const object = `arn:aws:s3:::${BUCKET}/snapshots/2025/01/01/a.db`;
const bucket = `arn:aws:s3:::${BUCKET}`;

describe('the bucket policy, evaluated', () => {
  it('the reconciler writes, reads and deletes snapshots; the masters read them (over TLS)', async () => {
    for (const a of ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'])
      expect(await evaluate(RECONCILER, a, object)).toBe('Allowed');
    expect(await evaluate(MASTER, 's3:GetObject', object)).toBe('Allowed');
    // the cluster's administrators' role: tripod restore verifies a snapshot before anything changes
    expect(await evaluate(CLUSTER_ADMIN, 's3:GetObject', object)).toBe('Allowed');
  });

  it('nobody else reaches a snapshot, not even an administrator or the other roles of the cluster', async () => {
    for (const p of [
      role('tripod-apply'),
      role('tripod-plan'),
      role('tripod-pol-worker'),
      role('Admin'),
      role('tripod-polx-reconciler'),
    ]) {
      expect(await evaluate(p, 's3:GetObject', object)).toBe('ExplicitlyDenied');
      expect(await evaluate(p, 's3:PutObject', object)).toBe('ExplicitlyDenied');
      expect(await evaluate(p, 's3:DeleteObjectVersion', object)).toBe('ExplicitlyDenied');
    }
  });

  it('without TLS everything is denied, to the cluster roles too', async () => {
    expect(await evaluate(RECONCILER, 's3:GetObject', object, false)).toBe('ExplicitlyDenied');
    expect(await evaluate(role('tripod-apply'), 's3:GetBucketVersioning', bucket, false)).toBe(
      'ExplicitlyDenied',
    );
  });

  it("the bucket's settings stay with the identity policies (apply role, plan role)", async () => {
    expect(await evaluate(role('tripod-apply'), 's3:PutBucketPolicy', bucket)).toBe('Allowed');
    expect(await evaluate(role('tripod-plan'), 's3:GetBucketPolicy', bucket)).toBe('Allowed');
  });

  it("the provisioner names the cluster's own reconciler, master and admin roles", () => {
    const spec = simSpec({ cluster: 'pol', region: 'eu-north-1', zones: ['eu-north-1a'], masters: 1 });
    const d = desiredCluster(spec, { accountId: ACCOUNT });
    const value = d.resources.find((r) => r.kind === 'backup-bucket')!.value as { policy: unknown };
    expect(value.policy).toEqual(policy);
  });
});

describe('the bucket policy in S3 (moto)', () => {
  const s3 = new S3Client({
    region: 'eu-north-1',
    endpoint: inject('motoEndpoint'),
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  afterAll(() => s3.destroy());
  const name = `tripod-p${process.pid % 100000}-${ACCOUNT}-eu-north-1-backups`;
  const desired = {
    ...desiredBackupBucket({
      cluster: `p${process.pid % 100000}`,
      region: 'eu-north-1',
      accountId: ACCOUNT,
      snapshotRoles: [RECONCILER, MASTER],
    }),
  };

  it('is written on create, read back equal, and its drift is found and repaired', async () => {
    expect(desired.name).toBe(name);
    const first = await ensureBackupBucket(s3, desired);
    expect(first.map((c) => c.kind)).toContain('policy');
    const seen = await findBackupBucket(s3, name);
    expect(seen?.policy).toEqual(JSON.parse(JSON.stringify(desired.policy)));
    expect(compareBackupBucket(desired, seen)).toEqual([]);

    // Someone drops the TLS statement: the next plan shows it, apply puts it back.
    const loose = { ...desired.policy!, Statement: desired.policy!.Statement.slice(1) };
    await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: JSON.stringify(loose) }));
    const drift = compareBackupBucket(desired, await findBackupBucket(s3, name));
    expect(drift.map((c) => c.kind)).toEqual(['policy']);
    expect(drift[0]).toMatchObject({ kind: 'policy', from: expect.not.stringContaining('DenyWithoutTls') });
    await ensureBackupBucket(s3, desired);
    expect(compareBackupBucket(desired, await findBackupBucket(s3, name))).toEqual([]);
  });

  it('a policy S3 returns with one-element lists as scalars compares equal', async () => {
    const seen = await findBackupBucket(s3, name);
    const reshaped = JSON.parse(
      JSON.stringify(seen!.policy).replace('"Action":"s3:*"', '"Action":["s3:*"]'),
    ) as unknown;
    expect(compareBackupBucket(desired, { ...seen!, policy: reshaped })).toEqual([]);
  });
});
