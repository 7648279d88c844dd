/**
 * The S3 side of backups against moto's S3: the bucket resource, writing snapshots (multipart,
 * SSE-KMS, SHA-256 in metadata and manifest), listing, reading back with verification, refusing
 * corrupt or truncated snapshots, and pruning. The snapshot bytes come from a synthetic source in
 * etcd's format (a body followed by its SHA-256); test/backup-restore.test.ts uses real etcd.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findBackupBucket } from '../../src/adapters/aws/backup-bucket.js';
import { ApiCallCounter, createAwsClients, instrument } from '../../src/adapters/aws/clients.js';
import { BackupError, createS3Backup, type SnapshotSource } from '../../src/adapters/aws/s3-backup.js';
import { manifestKey, parseSnapshotKey, snapshotKey } from '../../src/heal/backup-policy.js';
import {
  backupBucketDesired,
  backupBucketKind,
  backupBucketName,
  compareBackupBucket,
  desiredBackupBucket,
  ensureBackupBucket,
} from '../../src/provision/backup-bucket.js';
import type { Context } from '../../src/provision/resource.js';

const REGION = 'eu-north-1';
let s3: S3Client;
let dir: string;
const unique = `b${process.pid}${Date.now().toString(36)}`.slice(0, 16);

/** etcd's snapshot format: the database bytes, then their SHA-256. */
function etcdLike(size: number): Buffer {
  const body = randomBytes(size);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

function sourceOf(bytes: Buffer, revision = 42, chunk = 64 * 1024): SnapshotSource & { calls: number } {
  const src = {
    calls: 0,
    async revision() {
      return revision;
    },
    async *snapshot() {
      src.calls++;
      for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
    },
  };
  return src;
}

async function freshBucket(suffix: string): Promise<string> {
  const name = `${unique}-${suffix}`;
  await s3.send(
    new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
  return name;
}

const makeS3 = () =>
  new S3Client({
    region: REGION,
    endpoint: inject('motoEndpoint'),
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

beforeAll(() => {
  s3 = makeS3();
  dir = mkdtempSync(join(tmpdir(), 'tripod-backup-s3-'));
});

afterAll(() => {
  s3?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('backup bucket resource', () => {
  it('names the bucket within the setup template pattern and S3 limits', () => {
    const name = backupBucketName('a-twenty-char-name-x', '123456789012', 'ap-southeast-2');
    expect(name).toMatch(/^tripod-.*-backups$/);
    expect(name.length).toBeLessThanOrEqual(63);
  });

  it('creates a versioned, KMS-encrypted, private bucket with lifecycle and tags; a second apply changes nothing', async () => {
    const desired = desiredBackupBucket({
      cluster: `c${unique}`.slice(0, 20),
      region: REGION,
      accountId: '123456789012',
      tags: { team: 'infra' },
    });
    expect(await findBackupBucket(s3, desired.name)).toBeUndefined();
    const first = await ensureBackupBucket(s3, desired);
    expect(first.map((c) => c.kind)).toEqual([
      'create',
      'versioning',
      'encryption',
      'public-access-block',
      'lifecycle',
      'tags',
    ]);
    const seen = await findBackupBucket(s3, desired.name);
    expect(seen?.versioning).toBe('Enabled');
    expect(seen?.encryption?.algorithm).toBe('aws:kms');
    expect(seen?.publicAccessBlocked).toBe(true);
    expect(seen?.tags['tripod:cluster']).toBe(desired.cluster);
    expect(seen?.lifecycle.map((r) => r.ID).sort()).toEqual([
      'tripod-abort-incomplete-uploads',
      'tripod-expire-noncurrent-versions',
    ]);
    expect(compareBackupBucket(desired, seen)).toEqual([]);
    expect(await ensureBackupBucket(s3, desired)).toEqual([]);
  });

  it('notices drift: versioning suspended and a changed lifecycle', () => {
    const desired = desiredBackupBucket({ cluster: 'x', region: REGION, accountId: '123456789012' });
    const changes = compareBackupBucket(desired, {
      name: desired.name,
      versioning: 'Suspended',
      encryption: { algorithm: 'AES256' },
      publicAccessBlocked: true,
      lifecycle: [],
      tags: { 'tripod:cluster': 'x' },
    });
    expect(changes.map((c) => c.kind)).toEqual(['versioning', 'encryption', 'lifecycle']);
  });
});

describe('backup bucket as a provisioner resource kind', () => {
  it('finds, creates, compares clean, and keeps the bucket on delete', async () => {
    const cluster = `k${unique}`.slice(0, 20);
    const value = desiredBackupBucket({
      cluster,
      region: REGION,
      accountId: '123456789012',
      tags: { 'tripod:managed-by': 'tripod' },
    });
    const desired = backupBucketDesired(value);
    const progress: string[] = [];
    const ctx = {
      aws: createAwsClients({ region: REGION, endpoint: inject('motoEndpoint'), maxAttempts: 1 }),
      cluster,
      desired: [desired],
      progress: (m: string) => progress.push(m),
    } as unknown as Context;
    try {
      expect(await backupBucketKind.find(ctx)).toEqual([]);
      const created = await backupBucketKind.create(ctx, desired);
      expect(created.owned).toBe(true);
      const [found] = await backupBucketKind.find(ctx);
      expect(found?.id).toBe(value.name);
      expect(backupBucketKind.compare(value, found!, undefined as never).changes).toEqual([]);
      await backupBucketKind.delete(ctx, found!);
      expect(progress.join('\n')).toMatch(/keeping backup bucket .*: it holds the cluster's etcd snapshots/);
      expect(await findBackupBucket(s3, value.name)).toBeDefined();
    } finally {
      ctx.aws.destroy();
    }
  });
});

describe('snapshots in S3', () => {
  it('writes a multipart snapshot with SSE-KMS, records its SHA-256 and reads it back verified', async () => {
    const bucket = await freshBucket('rw');
    const bytes = etcdLike(12 * 1024 * 1024 + 123); // > 2 parts of 5 MiB
    const sha = createHash('sha256').update(bytes).digest('hex');
    const t = Date.UTC(2026, 2, 1, 10, 0, 0);
    const counter = new ApiCallCounter();
    const counted = instrument(makeS3(), counter);
    const backup = createS3Backup({
      s3: counted,
      bucket,
      cluster: 'rw',
      source: sourceOf(bytes, 4711),
      now: () => t,
      partSize: 5 * 1024 * 1024,
    });
    const written = await backup.snapshot(
      'https://127.0.0.1:2379',
      'before remove-member 42: its instance is gone',
    );
    expect(written).toEqual({
      key: snapshotKey('rw', t, 4711),
      bytes: bytes.length,
      sha256: sha,
      revision: 4711,
      time: t,
    });

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: written.key }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.Metadata?.sha256).toBe(sha);
    expect(head.Metadata?.revision).toBe('4711');
    expect(head.ContentLength).toBe(bytes.length);
    // A multipart upload of 3 parts, then the self-copy that adds the hash to the metadata.
    expect(counter.snapshot()).toMatchObject({
      's3:CreateMultipartUpload': 1,
      's3:UploadPart': 3,
      's3:CompleteMultipartUpload': 1,
      's3:CopyObject': 1,
      's3:PutObject': 1,
    });

    const m = JSON.parse(
      (await (
        await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(written.key) }))
      ).Body?.transformToString()) ?? '',
    );
    expect(m).toMatchObject({
      key: written.key,
      sha256: sha,
      size: bytes.length,
      revision: 4711,
      cluster: 'rw',
    });

    expect(await backup.list()).toEqual([
      { key: written.key, time: t, revision: 4711, size: bytes.length, sha256: sha },
    ]);

    const path = join(dir, 'rw.db');
    await backup.download(written.key, path);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('fails loudly when the etcd stream is cut short, and leaves no snapshot behind', async () => {
    const bucket = await freshBucket('cut');
    const bytes = etcdLike(6 * 1024 * 1024);
    const truncated = bytes.subarray(0, bytes.length - 1000);
    const backup = createS3Backup({
      s3,
      bucket,
      cluster: 'cut',
      source: sourceOf(truncated),
      partSize: 5 * 1024 * 1024,
    });
    const err = await backup.snapshot('https://127.0.0.2:2379', 'scheduled').catch((e) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect(err.message).toMatch(
      /backup of etcd https:\/\/127\.0\.0\.2:2379 to s3:\/\/.*cut\/.*-rev42\.db failed/,
    );
    expect(err.message).toMatch(/hash trailer/);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents ?? []).toEqual([]);
    expect(await backup.list()).toEqual([]);
  });

  it('fails with a clear message when the bucket is missing', async () => {
    const backup = createS3Backup({
      s3,
      bucket: `${unique}-nope`,
      cluster: 'x',
      source: sourceOf(etcdLike(1000)),
    });
    await expect(backup.snapshot('https://127.0.0.3:2379', 'scheduled')).rejects.toThrow(
      /backup of etcd https:\/\/127\.0\.0\.3:2379 to s3:\/\/.*-nope\/x\/.* failed: .*bucket/i,
    );
  });

  it('refuses a corrupt, a truncated or an unfinished snapshot, removing the partial download', async () => {
    const bucket = await freshBucket('bad');
    const bytes = etcdLike(300_000);
    let t = Date.UTC(2026, 2, 1, 10, 0, 0);
    const backup = createS3Backup({ s3, bucket, cluster: 'bad', source: sourceOf(bytes), now: () => t });
    const good = await backup.snapshot('https://127.0.0.4:2379', 'scheduled');
    t += 60_000;
    const other = await backup.snapshot('https://127.0.0.4:2379', 'scheduled');

    // Flip one byte in place (a new version of the same key, as a bad actor or bit rot would).
    const flipped = Buffer.from(bytes);
    flipped[1000] = (flipped[1000] ?? 0) ^ 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: good.key, Body: flipped }));
    const path = join(dir, 'bad.db');
    const corrupt = await backup.download(good.key, path).catch((e) => e);
    expect(corrupt).toBeInstanceOf(BackupError);
    expect(corrupt.message).toMatch(
      /is corrupt: its SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
    );
    expect(existsSync(path)).toBe(false);

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: other.key, Body: bytes.subarray(0, 200_000) }));
    const truncated = await backup.download(other.key, path).catch((e) => e);
    expect(truncated.message).toMatch(/it is 200000 bytes, the manifest says 300032 \(truncated\?\)/);
    expect(existsSync(path)).toBe(false);

    // Metadata and manifest disagree (one of them was tampered with): refused before downloading.
    t += 60_000;
    const third = await backup.snapshot('https://127.0.0.4:2379', 'scheduled');
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: third.key,
        Body: bytes,
        Metadata: { sha256: 'f'.repeat(64) },
      }),
    );
    await expect(backup.download(third.key, path)).rejects.toThrow(
      /the SHA-256 in its metadata \(f{64}\) differs from its manifest \([0-9a-f]{64}\); refusing to use it/,
    );

    const orphan = snapshotKey('bad', t + 60_000, 99);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: orphan, Body: bytes }));
    await expect(backup.download(orphan, path)).rejects.toThrow(/has no manifest: it was never completed/);
    expect((await backup.list()).find((s) => s.key === orphan)?.sha256).toBeUndefined();
  });

  it('prunes by the retention policy: snapshots and their manifests', async () => {
    const bucket = await freshBucket('prune');
    const bytes = etcdLike(1000);
    const DAY = 86_400_000;
    const now = Date.UTC(2026, 5, 30, 12, 0, 0);
    let t = 0;
    const backup = createS3Backup({ s3, bucket, cluster: 'prune', source: sourceOf(bytes), now: () => t });
    // Two a day for 5 days, starting 5 days ago, then one now.
    const keys: string[] = [];
    for (let d = 5; d >= 1; d--) {
      for (const h of [1, 2]) {
        t = now - d * DAY + h * 3_600_000;
        keys.push((await backup.snapshot('https://127.0.0.5:2379', 'scheduled')).key);
      }
    }
    t = now;
    keys.push((await backup.snapshot('https://127.0.0.5:2379', 'scheduled')).key);
    const deleted = await backup.prune(3);
    // Kept: everything from the last 48 h (day 1 and 2 ago: 4) + the newest; day 3 and older than
    // 3 days: gone (3 days ago +1h/+2h are 71-70 h old: inside 3 days, one kept per UTC day).
    const ages = deleted.map((k) => (now - (parseSnapshotKey(k)?.time ?? 0)) / 3_600_000);
    expect(ages).toEqual([119, 118, 95, 94, 71]);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const leftKeys = (left.Contents ?? []).map((o) => o.Key);
    for (const k of deleted) {
      expect(leftKeys).not.toContain(k);
      expect(leftKeys).not.toContain(manifestKey(k));
    }
    expect((await backup.list()).length).toBe(keys.length - deleted.length);
    expect(await backup.prune(3)).toEqual([]);
  });

  it('scheduled pass: snapshots only when due, ignores an unfinished one, prunes, says when the next is due', async () => {
    const bucket = await freshBucket('sched');
    const MIN = 60_000;
    let t = Date.UTC(2026, 6, 1, 0, 0, 0);
    const src = sourceOf(etcdLike(5000));
    const backup = createS3Backup({ s3, bucket, cluster: 'sched', source: src, now: () => t });
    const schedule = { intervalMinutes: 15, retentionDays: 30 };

    const first = await backup.scheduled('https://127.0.0.6:2379', schedule);
    expect(first.taken?.time).toBe(t);
    expect(first.nextInMs).toBe(15 * MIN);

    t += 10 * MIN;
    // A snapshot whose manifest never got written (the writer died) does not count as a backup.
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: snapshotKey('sched', t, 7), Body: etcdLike(10) }),
    );
    const early = await backup.scheduled('https://127.0.0.6:2379', schedule);
    expect(early.taken).toBeUndefined();
    expect(early.nextInMs).toBe(5 * MIN);
    expect(src.calls).toBe(1);
    expect((await backup.latest())?.time).toBe(first.taken?.time);

    t += 5 * MIN;
    const due = await backup.scheduled('https://127.0.0.6:2379', schedule);
    expect(due.taken?.time).toBe(t);
    expect(src.calls).toBe(2);
    expect(due.pruned).toEqual([]);
  });
});
