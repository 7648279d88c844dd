/**
 * The S3 calls behind the etcd backup bucket's settings (src/provision/backup-bucket.ts decides which
 * to make): read them all, and put each one. Every put is idempotent.
 */
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  type LifecycleRule,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorCode } from './errors.js';

export type { LifecycleRule };

export interface BackupBucketObserved {
  name: string;
  versioning: 'Enabled' | 'Suspended' | 'Off';
  /** Default encryption: algorithm and key (undefined: none configured). */
  encryption: { algorithm: string; kmsKeyId?: string } | undefined;
  publicAccessBlocked: boolean;
  lifecycle: LifecycleRule[];
  /** The bucket policy document, parsed (undefined: none). */
  policy?: unknown;
  tags: Record<string, string>;
}

const httpStatus = (e: unknown): number | undefined =>
  (e as { httpStatus?: number })?.httpStatus ??
  (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/**
 * Reads what exists; undefined when the bucket does not exist. Six calls: GetBucketVersioning doubles
 * as the existence probe (NoSuchBucket / 404), then the other five settings are read in parallel.
 */
export async function findBackupBucket(
  s3: S3Client,
  name: string,
): Promise<BackupBucketObserved | undefined> {
  let versioning: { Status?: string };
  try {
    versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: name }));
  } catch (e) {
    if (errorCode(e) === 'NotFound' || errorCode(e) === 'NoSuchBucket' || httpStatus(e) === 404)
      return undefined;
    throw e;
  }
  const optional = async <T>(read: () => Promise<T>, missing: T, ...notFound: string[]): Promise<T> => {
    try {
      return await read();
    } catch (e) {
      if (notFound.includes(errorCode(e))) return missing;
      throw e;
    }
  };
  const [encryption, publicAccessBlocked, lifecycle, policy, tags] = await Promise.all([
    optional(
      async () => {
        const r = await s3.send(new GetBucketEncryptionCommand({ Bucket: name }));
        const d = r.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
        return d?.SSEAlgorithm
          ? { algorithm: d.SSEAlgorithm, ...(d.KMSMasterKeyID ? { kmsKeyId: d.KMSMasterKeyID } : {}) }
          : undefined;
      },
      undefined,
      'ServerSideEncryptionConfigurationNotFoundError',
    ),
    optional(
      async () => {
        const r = await s3.send(new GetPublicAccessBlockCommand({ Bucket: name }));
        const c = r.PublicAccessBlockConfiguration;
        return !!(c?.BlockPublicAcls && c.BlockPublicPolicy && c.IgnorePublicAcls && c.RestrictPublicBuckets);
      },
      false,
      'NoSuchPublicAccessBlockConfiguration',
    ),
    optional(
      async () => (await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }))).Rules ?? [],
      [] as LifecycleRule[],
      'NoSuchLifecycleConfiguration',
    ),
    optional(
      async () => {
        const text = (await s3.send(new GetBucketPolicyCommand({ Bucket: name }))).Policy;
        return text ? (JSON.parse(text) as unknown) : undefined;
      },
      undefined as unknown,
      'NoSuchBucketPolicy',
    ),
    optional(
      async () => {
        const r = await s3.send(new GetBucketTaggingCommand({ Bucket: name }));
        return Object.fromEntries((r.TagSet ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      },
      {} as Record<string, string>,
      'NoSuchTagSet',
    ),
  ]);
  return {
    name,
    versioning:
      versioning.Status === 'Enabled' ? 'Enabled' : versioning.Status === 'Suspended' ? 'Suspended' : 'Off',
    encryption,
    publicAccessBlocked,
    lifecycle,
    policy,
    tags,
  };
}

/** Creates the bucket in the region; a bucket already ours is fine. */
export async function createBucket(s3: S3Client, Bucket: string, region: string): Promise<void> {
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket,
        ...(region === 'us-east-1'
          ? {}
          : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
  } catch (e) {
    if (errorCode(e) !== 'BucketAlreadyOwnedByYou') throw e;
  }
}

export async function enableVersioning(s3: S3Client, Bucket: string): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
}

/** Default encryption with KMS (the account's `aws/s3` key when `kmsKeyId` is undefined), bucket key on. */
export async function putKmsEncryption(s3: S3Client, Bucket: string, kmsKeyId?: string): Promise<void> {
  await s3.send(
    new PutBucketEncryptionCommand({
      Bucket,
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              ...(kmsKeyId ? { KMSMasterKeyID: kmsKeyId } : {}),
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    }),
  );
}

/** All four public-access blocks. */
export async function blockPublicAccess(s3: S3Client, Bucket: string): Promise<void> {
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
}

export async function putLifecycleRules(s3: S3Client, Bucket: string, Rules: LifecycleRule[]): Promise<void> {
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
}

/** Replaces the bucket policy. */
export async function putBucketPolicy(s3: S3Client, Bucket: string, policy: unknown): Promise<void> {
  await s3.send(new PutBucketPolicyCommand({ Bucket, Policy: JSON.stringify(policy) }));
}

/** Replaces the bucket's tag set. */
export async function putBucketTags(
  s3: S3Client,
  Bucket: string,
  tags: Record<string, string>,
): Promise<void> {
  await s3.send(
    new PutBucketTaggingCommand({
      Bucket,
      Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
    }),
  );
}
