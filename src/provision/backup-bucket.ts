/**
 * The etcd backup bucket: find / compare / apply.
 *
 * One bucket per cluster, `tripod-<cluster>-<account>-<region>-backups` (bucket names are global;
 * the account and region make it unique and it still matches the setup template's
 * `tripod-*-backups` pattern; at most 63 characters for a 20-character cluster name). It is:
 *  - versioned (a deleted or overwritten snapshot stays recoverable until the lifecycle expires it),
 *  - encrypted by default with KMS (SSE-KMS, bucket key on),
 *  - closed to the public (all four public-access blocks),
 *  - under a bucket policy (`backupBucketPolicy`): every request without TLS is denied, and the
 *    snapshots (every object: they hold the cluster's Secrets and CA keys) are denied to every
 *    principal but the cluster's reconciler and master roles, administrators included,
 *  - tagged `tripod:cluster`,
 *  - under a lifecycle policy: incomplete multipart uploads are aborted after a day, noncurrent
 *    versions expire after `NONCURRENT_DAYS`, expired delete markers are removed.
 * The "all from 48 hours, then one a day for N days" retention cannot be said in an S3 lifecycle
 * rule (it has no "one per day"); the reconciler applies it (heal/backup-policy.ts) by deleting
 * snapshots, and this lifecycle then clears their noncurrent versions. No rule expires current
 * objects: the newest snapshot must survive even if backups stop for longer than the retention.
 */
import {
  type BackupBucketObserved,
  blockPublicAccess,
  createBucket,
  enableVersioning,
  findBackupBucket,
  type LifecycleRule,
  putBucketPolicy,
  putBucketTags,
  putKmsEncryption,
  putLifecycleRules,
} from '../adapters/aws/backup-bucket.js';
import type { AwsClients } from '../adapters/aws/clients.js';
import { CLUSTER_TAG } from '../contract/protocol.js';
import {
  type Desired,
  desire,
  type FieldChange,
  type Found,
  isOwned,
  type ResourceKind,
} from './resource.js';

export type { BackupBucketObserved };

type S3Client = AwsClients['s3'];

/** Days a deleted or replaced snapshot version stays recoverable. */
export const NONCURRENT_DAYS = 7;

export function backupBucketName(cluster: string, accountId: string, region: string): string {
  const name = `tripod-${cluster}-${accountId}-${region}-backups`;
  if (name.length > 63) throw new Error(`backup bucket name ${name} is longer than S3's 63 characters`);
  return name;
}

export interface BackupBucketDesired {
  name: string;
  region: string;
  cluster: string;
  /** KMS key for default encryption; undefined: the account's `aws/s3` key. */
  kmsKeyId?: string;
  /** The bucket policy (`backupBucketPolicy`); undefined: none managed. */
  policy?: BucketPolicy;
  tags: Record<string, string>;
}

export interface BucketPolicy {
  Version: '2012-10-17';
  Statement: Array<Record<string, unknown>>;
}

/** The ARN partition of a region (`aws-cn` for China, `aws-us-gov` for GovCloud, else `aws`). */
export const partitionOf = (region: string) =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/**
 * The backup bucket's policy: no request without TLS (`aws:SecureTransport` false), and no object
 * request (read, write, delete, any version) from a principal other than `snapshotRoles`, the
 * cluster's reconciler (takes and prunes snapshots) and master roles (read one to restore). The
 * principals are named by condition (`aws:PrincipalArn`), not in `Principal`, so the policy is
 * accepted even before infra/tripod-cluster.yaml made the roles. The bucket's settings stay with the
 * apply role's identity policy (infra/tripod-setup.yaml): the account's root user can always remove
 * a bucket policy, an administrator can read no snapshot.
 */
export function backupBucketPolicy(input: {
  bucket: string;
  partition: string;
  snapshotRoles: string[];
}): BucketPolicy {
  const bucket = `arn:${input.partition}:s3:::${input.bucket}`;
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyWithoutTls',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [bucket, `${bucket}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'SnapshotsOnlyForTheClusterRoles',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: `${bucket}/*`,
        Condition: { ArnNotLike: { 'aws:PrincipalArn': [...input.snapshotRoles] } },
      },
    ],
  };
}

/**
 * A policy document in a form that compares equal whatever S3 does to the text: keys in order, a
 * one-element list the same as its element, lists of strings sorted.
 */
function policyForm(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(policyForm);
    if (items.length === 1) return items[0];
    return items.every((x) => typeof x === 'string') ? [...(items as string[])].sort() : items;
  }
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, policyForm(x)]),
    );
  return v;
}
const policyText = (p: unknown) => (p === undefined ? 'none' : canonical(policyForm(p)));

export function desiredBackupBucket(input: {
  cluster: string;
  region: string;
  accountId: string;
  tags?: Record<string, string>;
  kmsKeyId?: string;
  /** Role ARNs that may read and write the snapshots (the bucket policy); none: no policy managed. */
  snapshotRoles?: string[];
}): BackupBucketDesired {
  const name = backupBucketName(input.cluster, input.accountId, input.region);
  return {
    name,
    region: input.region,
    cluster: input.cluster,
    ...(input.kmsKeyId ? { kmsKeyId: input.kmsKeyId } : {}),
    ...(input.snapshotRoles?.length
      ? {
          policy: backupBucketPolicy({
            bucket: name,
            partition: partitionOf(input.region),
            snapshotRoles: input.snapshotRoles,
          }),
        }
      : {}),
    tags: { ...(input.tags ?? {}), [CLUSTER_TAG]: input.cluster },
  };
}

/** The lifecycle rules tripod wants on the bucket (pure, compared by value). */
export function backupLifecycleRules(): LifecycleRule[] {
  return [
    {
      ID: 'tripod-abort-incomplete-uploads',
      Status: 'Enabled',
      Filter: { Prefix: '' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
    },
    {
      ID: 'tripod-expire-noncurrent-versions',
      Status: 'Enabled',
      Filter: { Prefix: '' },
      NoncurrentVersionExpiration: { NoncurrentDays: NONCURRENT_DAYS },
      Expiration: { ExpiredObjectDeleteMarker: true },
    },
  ];
}

export type BackupBucketChange =
  | { kind: 'create'; name: string }
  | { kind: 'versioning'; from: string; to: 'Enabled' }
  | { kind: 'encryption'; from: string; to: string }
  | { kind: 'public-access-block'; from: boolean; to: true }
  | { kind: 'lifecycle'; from: string[]; to: string[] }
  | { kind: 'policy'; from: string; to: string }
  | { kind: 'tags'; from: Record<string, string>; to: Record<string, string> };

const encryptionLabel = (e: { algorithm: string; kmsKeyId?: string } | undefined): string =>
  e ? `${e.algorithm}${e.kmsKeyId ? ` (${e.kmsKeyId})` : ''}` : 'none';

/** Canonical JSON of a rule, for comparing by value whatever order S3 returns the fields in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The changes that turn `observed` into `desired` (pure; empty when nothing is to do). */
export function compareBackupBucket(
  desired: BackupBucketDesired,
  observed: BackupBucketObserved | undefined,
): BackupBucketChange[] {
  const wantEncryption = {
    algorithm: 'aws:kms',
    ...(desired.kmsKeyId ? { kmsKeyId: desired.kmsKeyId } : {}),
  };
  const wantRules = backupLifecycleRules();
  if (!observed) {
    return [
      { kind: 'create', name: desired.name },
      { kind: 'versioning', from: 'Off', to: 'Enabled' },
      { kind: 'encryption', from: 'none', to: encryptionLabel(wantEncryption) },
      { kind: 'public-access-block', from: false, to: true },
      { kind: 'lifecycle', from: [], to: wantRules.map((r) => r.ID ?? '') },
      ...(desired.policy ? [{ kind: 'policy' as const, from: 'none', to: policyText(desired.policy) }] : []),
      { kind: 'tags', from: {}, to: desired.tags },
    ];
  }
  const changes: BackupBucketChange[] = [];
  if (observed.versioning !== 'Enabled')
    changes.push({ kind: 'versioning', from: observed.versioning, to: 'Enabled' });
  const enc = observed.encryption;
  if (enc?.algorithm !== 'aws:kms' || (desired.kmsKeyId !== undefined && enc.kmsKeyId !== desired.kmsKeyId)) {
    changes.push({ kind: 'encryption', from: encryptionLabel(enc), to: encryptionLabel(wantEncryption) });
  }
  if (!observed.publicAccessBlocked) changes.push({ kind: 'public-access-block', from: false, to: true });
  const have = new Map(observed.lifecycle.map((r) => [r.ID ?? '', canonical(r)]));
  if (wantRules.some((r) => have.get(r.ID ?? '') !== canonical(r)) || have.size !== wantRules.length) {
    changes.push({
      kind: 'lifecycle',
      from: observed.lifecycle.map((r) => r.ID ?? '(unnamed)'),
      to: wantRules.map((r) => r.ID ?? ''),
    });
  }
  if (desired.policy && policyText(observed.policy) !== policyText(desired.policy))
    changes.push({ kind: 'policy', from: policyText(observed.policy), to: policyText(desired.policy) });
  const tagsDiffer =
    Object.entries(desired.tags).some(([k, v]) => observed.tags[k] !== v) ||
    Object.keys(observed.tags).some((k) => k.startsWith('tripod:') && !(k in desired.tags));
  if (tagsDiffer) changes.push({ kind: 'tags', from: observed.tags, to: desired.tags });
  return changes;
}

/** Makes the changes (each call is idempotent: applying twice is harmless). */
export async function applyBackupBucket(
  s3: S3Client,
  desired: BackupBucketDesired,
  changes: readonly BackupBucketChange[],
): Promise<void> {
  const bucket = desired.name;
  for (const c of changes) {
    switch (c.kind) {
      case 'create':
        await createBucket(s3, bucket, desired.region);
        break;
      case 'versioning':
        await enableVersioning(s3, bucket);
        break;
      case 'encryption':
        await putKmsEncryption(s3, bucket, desired.kmsKeyId);
        break;
      case 'public-access-block':
        await blockPublicAccess(s3, bucket);
        break;
      case 'lifecycle':
        await putLifecycleRules(s3, bucket, backupLifecycleRules());
        break;
      case 'policy':
        await putBucketPolicy(s3, bucket, desired.policy);
        break;
      case 'tags':
        await putBucketTags(s3, bucket, desired.tags);
        break;
    }
  }
}

/** find, compare, apply: returns the changes made (empty when the bucket was already as desired). */
export async function ensureBackupBucket(
  s3: S3Client,
  desired: BackupBucketDesired,
): Promise<BackupBucketChange[]> {
  const changes = compareBackupBucket(desired, await findBackupBucket(s3, desired.name));
  await applyBackupBucket(s3, desired, changes);
  return changes;
}

/** The key of the backup bucket in plans. */
export const BACKUP_BUCKET_KEY = 'backup-bucket';

const toFieldChanges = (changes: readonly BackupBucketChange[]): FieldChange[] =>
  changes.map((c) =>
    c.kind === 'create'
      ? { field: 'bucket', before: undefined, after: c.name }
      : { field: c.kind, before: c.from, after: c.to },
  );

const foundOf = (observed: BackupBucketObserved, cluster: string): Found<BackupBucketObserved> => ({
  key: BACKUP_BUCKET_KEY,
  kind: 'backup-bucket',
  title: `backup bucket ${observed.name}`,
  id: observed.name,
  owned: isOwned(observed.tags, cluster),
  attrs: { id: observed.name, name: observed.name },
  actual: observed,
});

/** The desired resource for the provisioner's list (tags: the owner tags of the spec). */
export function backupBucketDesired(value: BackupBucketDesired): Desired<BackupBucketDesired> {
  return desire(backupBucketKind, BACKUP_BUCKET_KEY, `backup bucket ${value.name}`, value);
}

/**
 * The bucket as a provisioner resource kind. `delete` keeps the bucket: it holds the only copy of the
 * cluster's etcd data once the cluster is gone, so destroy reports it and leaves it to a human.
 */
export const backupBucketKind: ResourceKind<BackupBucketDesired, BackupBucketObserved> = {
  kind: 'backup-bucket',
  group: 'backups',
  dependsOn: [],
  async find(ctx) {
    const wanted = ctx.desired.find((d) => d.kind === 'backup-bucket')?.value as
      | BackupBucketDesired
      | undefined;
    if (!wanted) return [];
    const observed = await findBackupBucket(ctx.aws.s3, wanted.name);
    return observed ? [foundOf(observed, ctx.cluster)] : [];
  },
  compare(desired, found) {
    return { changes: toFieldChanges(compareBackupBucket(desired, found.actual)) };
  },
  async create(ctx, d) {
    await applyBackupBucket(ctx.aws.s3, d.value, compareBackupBucket(d.value, undefined));
    const observed = await findBackupBucket(ctx.aws.s3, d.value.name);
    if (!observed) throw new Error(`backup bucket ${d.value.name} was created but cannot be read back`);
    return foundOf(observed, ctx.cluster);
  },
  async update(ctx, d, f) {
    await applyBackupBucket(ctx.aws.s3, d.value, compareBackupBucket(d.value, f.actual));
    return undefined;
  },
  async delete(ctx, f) {
    ctx.progress(
      `keeping backup bucket ${f.id}: it holds the cluster's etcd snapshots. Delete it yourself once you no longer need them.`,
    );
  },
};
