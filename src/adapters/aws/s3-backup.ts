/**
 * etcd snapshots in S3: implements the healing core's BackupPort, and lists, reads back and prunes
 * snapshots for `tripod backups`, `tripod restore` and the reconciler's retention pass.
 *
 * Writing a snapshot:
 *  1. ask the member for its current revision (it goes into the key: the snapshot holds at least it);
 *  2. stream `/v3/maintenance/snapshot` straight into a multipart upload (SSE-KMS), hashing on the
 *     way; etcd's own SHA-256 trailer (the last 32 bytes) is checked at the end of the stream, so a
 *     snapshot cut short by a dropped connection fails the upload instead of landing in the bucket;
 *  3. record the SHA-256 of the whole object as object metadata (`x-amz-meta-sha256`, a server-side
 *     copy onto itself) and in a small manifest object next to it (`<key>.manifest.json`).
 * A snapshot without a manifest was never completed: it is listed as such and never restored.
 * Any failure is a BackupError naming the endpoint, the bucket and the key: the caller publishes it
 * as a metric and a status line.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  isBackupDue,
  manifestKey,
  newestSnapshot,
  nextBackupInMs,
  parseSnapshotKey,
  type SnapshotInfo,
  type SnapshotRef,
  snapshotKey,
  snapshotPrefix,
  snapshotsToDelete,
} from '../../heal/backup-policy.js';
import type { BackupPort } from '../../heal/ports.js';
import { createEtcdClient, type EtcdClientOptions } from '../etcd/client.js';
import { Gateway } from '../etcd/gateway.js';
import { errorCode } from './errors.js';

/** etcd appends the SHA-256 of the database to every snapshot it streams. */
export const ETCD_HASH_TRAILER_BYTES = 32;

/** S3's limit for a single CopyObject; bigger snapshots keep their hash in the manifest only. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** Where snapshot bytes come from: an etcd member, addressed by its client endpoint. */
export interface SnapshotSource {
  /** The revision the member serves now (the `header.revision` of any reply). */
  revision(endpoint: string): Promise<number>;
  /** The snapshot stream of `/v3/maintenance/snapshot`: the bolt database followed by its 32-byte SHA-256. */
  snapshot(endpoint: string): AsyncIterable<Uint8Array>;
}

/**
 * A SnapshotSource over etcd's JSON gateway: the bytes from the etcd client's snapshot stream, the
 * revision from the `header.revision` of a status call (the client's `status` does not return it).
 */
export function etcdSnapshotSource(options: EtcdClientOptions = {}): SnapshotSource & { close(): void } {
  const client = createEtcdClient({ ...options, timeoutMs: options.timeoutMs ?? 30_000 });
  const gateway = new Gateway({ tls: options.tls, timeoutMs: options.timeoutMs ?? 5000 });
  return {
    async revision(endpoint) {
      const r = await gateway.call<{ header?: { revision?: string } }>(endpoint, '/v3/maintenance/status');
      const revision = Number(r.header?.revision ?? Number.NaN);
      if (!Number.isSafeInteger(revision))
        throw new BackupError(`etcd ${endpoint} did not report its revision`);
      return revision;
    },
    snapshot: (endpoint) => client.snapshot(endpoint),
    close() {
      client.close();
      gateway.close();
    },
  };
}

/** The manifest stored next to each snapshot. */
export interface SnapshotManifest {
  key: string;
  cluster: string;
  /** ISO time the snapshot was taken. */
  time: string;
  revision: number;
  size: number;
  sha256: string;
  /** Why it was taken (`scheduled`, `before remove-member ...`, `manual`). */
  reason: string;
  /** The member it was streamed from. */
  endpoint: string;
}

export class BackupError extends Error {
  override name = 'BackupError';
}

export interface S3BackupOptions {
  s3: S3Client;
  bucket: string;
  cluster: string;
  source?: SnapshotSource;
  /** KMS key id or ARN; default: the account's `aws/s3` key. */
  kmsKeyId?: string;
  now?: () => number;
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded in parallel (default 4). Memory use is about partSize x queueSize. */
  queueSize?: number;
}

export interface SnapshotWritten {
  key: string;
  bytes: number;
  sha256: string;
  revision: number;
  time: number;
}

export interface S3Backup extends BackupPort {
  snapshot(fromEndpoint: string, reason: string): Promise<SnapshotWritten>;
  /** Every snapshot of the cluster, oldest first, with size and (from the manifests) SHA-256. */
  list(): Promise<SnapshotInfo[]>;
  /** The manifest of one snapshot; undefined when there is none (an unfinished snapshot). */
  manifest(key: string): Promise<SnapshotManifest | undefined>;
  /**
   * Downloads a snapshot to `path`, checking its size and SHA-256 against the manifest and etcd's
   * hash trailer. On any mismatch the file is removed and a BackupError says what is wrong.
   */
  download(key: string, path: string): Promise<SnapshotManifest>;
  /** Applies the retention policy; returns the snapshot keys deleted. */
  prune(retentionDays: number): Promise<string[]>;
  /** The newest completed snapshot (one listing, no manifest reads): what "is a backup due" needs. */
  latest(): Promise<SnapshotRef | undefined>;
  /**
   * The scheduled pass: a snapshot when one is due (`isBackupDue`), then retention. A failed
   * snapshot throws (BackupError) before anything is pruned.
   */
  scheduled(
    fromEndpoint: string,
    schedule: { intervalMinutes: number; retentionDays: number },
  ): Promise<{ taken: SnapshotWritten | undefined; pruned: string[]; nextInMs: number }>;
}

/**
 * Hashes bytes as they pass, and checks etcd's trailer: `trailer.ok` tells whether the last 32 bytes
 * are the SHA-256 of everything before them (valid once the stream has ended).
 */
export class SnapshotDigest {
  private readonly whole = createHash('sha256');
  private readonly body = createHash('sha256');
  /** The last (up to) 32 bytes seen: not yet fed to `body`. */
  private tail: Buffer = Buffer.alloc(0);
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.whole.update(chunk);
    this.bytes += chunk.byteLength;
    const joined = Buffer.concat([this.tail, chunk]);
    const cut = Math.max(0, joined.length - ETCD_HASH_TRAILER_BYTES);
    if (cut > 0) this.body.update(joined.subarray(0, cut));
    this.tail = Buffer.from(joined.subarray(cut));
  }

  /** Call once, after the last chunk. */
  finish(): { sha256: string; bytes: number; trailerOk: boolean } {
    const sha256 = this.whole.digest('hex');
    const trailerOk =
      this.tail.length === ETCD_HASH_TRAILER_BYTES && this.bytes > ETCD_HASH_TRAILER_BYTES
        ? this.body.digest().equals(this.tail)
        : false;
    return { sha256, bytes: this.bytes, trailerOk };
  }
}

const describeError = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Metadata values must be ASCII; reasons are free text. */
const asciiHeader = (s: string): string =>
  s
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 512)
    .trim();

export function createS3Backup(options: S3BackupOptions): S3Backup {
  const { s3, bucket, cluster } = options;
  const now = options.now ?? Date.now;
  const encryption = {
    ServerSideEncryption: 'aws:kms' as const,
    ...(options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
  };
  const where = (key: string) => `s3://${bucket}/${key}`;

  async function manifest(key: string): Promise<SnapshotManifest | undefined> {
    try {
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: manifestKey(key) }));
      const text = (await r.Body?.transformToString()) ?? '';
      return JSON.parse(text) as SnapshotManifest;
    } catch (e) {
      const status =
        (e as { httpStatus?: number }).httpStatus ??
        (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || /^(NoSuchKey|NotFound)$/.test(errorCode(e))) return undefined;
      if (e instanceof SyntaxError)
        throw new BackupError(`${where(manifestKey(key))} is not valid JSON: ${e.message}`);
      throw e;
    }
  }

  async function listObjects(): Promise<Array<{ key: string; size: number }>> {
    const out: Array<{ key: string; size: number }> = [];
    let token: string | undefined;
    do {
      const r = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: snapshotPrefix(cluster),
          ContinuationToken: token,
        }),
      );
      for (const o of r.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0 });
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  const self: S3Backup = {
    async snapshot(fromEndpoint, reason) {
      const source = options.source;
      if (!source) throw new BackupError('no snapshot source configured: cannot take a snapshot');
      let key = `${snapshotPrefix(cluster)}(not yet named)`;
      try {
        const revision = await source.revision(fromEndpoint);
        const time = now();
        key = snapshotKey(cluster, time, revision);
        const digest = new SnapshotDigest();
        let result: ReturnType<SnapshotDigest['finish']> | undefined;
        async function* hashed() {
          for await (const chunk of source!.snapshot(fromEndpoint)) {
            digest.update(chunk);
            yield chunk;
          }
          result = digest.finish();
          if (result.bytes === 0) throw new BackupError('etcd sent an empty snapshot');
          if (!result.trailerOk) {
            throw new BackupError(
              `the snapshot stream ended after ${result.bytes} bytes without a valid etcd hash trailer (cut short?)`,
            );
          }
        }
        const upload = new Upload({
          client: s3,
          params: {
            Bucket: bucket,
            Key: key,
            Body: Readable.from(hashed(), { objectMode: false }),
            ContentType: 'application/octet-stream',
            Metadata: {
              revision: String(revision),
              'taken-at': new Date(time).toISOString(),
              reason: asciiHeader(reason),
            },
            ...encryption,
          },
          partSize: options.partSize ?? 8 * 1024 * 1024,
          queueSize: options.queueSize ?? 4,
          leavePartsOnError: false,
        });
        await upload.done();
        if (!result) throw new BackupError('the snapshot stream did not finish');
        const { sha256, bytes } = result;
        if (bytes <= MAX_COPY_BYTES) {
          await s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: key,
              CopySource: `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
              MetadataDirective: 'REPLACE',
              // Have S3 compute a whole-object checksum for the copy (moto otherwise keeps the
              // multipart one, and the SDK's response validation then fails on every read).
              ChecksumAlgorithm: 'CRC32',
              ContentType: 'application/octet-stream',
              Metadata: {
                revision: String(revision),
                'taken-at': new Date(time).toISOString(),
                reason: asciiHeader(reason),
                sha256,
              },
              ...encryption,
            }),
          );
        }
        const m: SnapshotManifest = {
          key,
          cluster,
          time: new Date(time).toISOString(),
          revision,
          size: bytes,
          sha256,
          reason,
          endpoint: fromEndpoint,
        };
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: manifestKey(key),
            Body: `${JSON.stringify(m, null, 2)}\n`,
            ContentType: 'application/json',
            ...encryption,
          }),
        );
        return { key, bytes, sha256, revision, time };
      } catch (e) {
        throw new BackupError(`backup of etcd ${fromEndpoint} to ${where(key)} failed: ${describeError(e)}`, {
          cause: e,
        });
      }
    },

    async list() {
      const objects = await listObjects();
      const manifests = new Set(objects.map((o) => o.key));
      const snaps = objects.flatMap((o) => {
        const ref = parseSnapshotKey(o.key);
        return ref && ref.cluster === cluster ? [{ ...ref, size: o.size }] : [];
      });
      const infos: SnapshotInfo[] = [];
      // Manifests are read 8 at a time: a month of snapshots is a few hundred small objects.
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < snaps.length; i = next++) {
          const s = snaps[i]!;
          const m = manifests.has(manifestKey(s.key)) ? await manifest(s.key) : undefined;
          infos.push({ key: s.key, time: s.time, revision: s.revision, size: s.size, sha256: m?.sha256 });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, snaps.length) }, worker));
      return infos.sort((a, b) => a.time - b.time || a.revision - b.revision);
    },

    manifest,

    async download(key, path) {
      const m = await manifest(key);
      if (!m) {
        throw new BackupError(`${where(key)} has no manifest: it was never completed, refusing to use it`);
      }
      let head: { ContentLength?: number; Metadata?: Record<string, string> };
      try {
        head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      } catch (e) {
        throw new BackupError(`${where(key)} cannot be read: ${describeError(e)}`, { cause: e });
      }
      const metaSha = head.Metadata?.sha256;
      if (metaSha && metaSha !== m.sha256) {
        throw new BackupError(
          `${where(key)}: the SHA-256 in its metadata (${metaSha}) differs from its manifest (${m.sha256}); refusing to use it`,
        );
      }
      const digest = new SnapshotDigest();
      try {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = r.Body as Readable | undefined;
        if (!body) throw new BackupError(`${where(key)} returned no body`);
        await pipeline(
          body,
          new Transform({
            transform(chunk: Buffer, _enc, cb) {
              digest.update(chunk);
              cb(null, chunk);
            },
          }),
          createWriteStream(path),
        );
      } catch (e) {
        await rm(path, { force: true });
        if (e instanceof BackupError) throw e;
        throw new BackupError(`downloading ${where(key)} to ${path} failed: ${describeError(e)}`, {
          cause: e,
        });
      }
      const got = digest.finish();
      const problems: string[] = [];
      if (got.bytes !== m.size)
        problems.push(`it is ${got.bytes} bytes, the manifest says ${m.size} (truncated?)`);
      if (got.sha256 !== m.sha256)
        problems.push(`its SHA-256 is ${got.sha256}, the manifest says ${m.sha256}`);
      if (!got.trailerOk) problems.push("etcd's own hash trailer does not match its contents");
      if (problems.length > 0) {
        await rm(path, { force: true });
        throw new BackupError(
          `snapshot ${where(key)} is corrupt: ${problems.join('; ')}. Refusing to use it.`,
        );
      }
      return m;
    },

    async prune(retentionDays) {
      const objects = await listObjects();
      const snaps = objects.flatMap((o) => {
        const ref = parseSnapshotKey(o.key);
        return ref && ref.cluster === cluster ? [ref] : [];
      });
      const doomed = snapshotsToDelete(snaps, now(), retentionDays);
      const keys = new Set(objects.map((o) => o.key));
      const toDelete = doomed.flatMap((k) => (keys.has(manifestKey(k)) ? [k, manifestKey(k)] : [k]));
      for (let i = 0; i < toDelete.length; i += 1000) {
        const batch = toDelete.slice(i, i + 1000);
        const r = await s3.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = r.Errors ?? [];
        if (failed.length > 0) {
          throw new BackupError(
            `pruning ${bucket}: ${failed.length} deletes failed, first: ${failed[0]?.Key}: ${failed[0]?.Message}`,
          );
        }
      }
      return doomed;
    },

    async latest() {
      const objects = await listObjects();
      const keys = new Set(objects.map((o) => o.key));
      // Completed snapshots only (their manifest is in the same listing): a snapshot cut off before
      // its manifest does not defer the next one.
      const snaps = objects.flatMap((o) => {
        const ref = parseSnapshotKey(o.key);
        return ref && ref.cluster === cluster && keys.has(manifestKey(o.key))
          ? [{ key: ref.key, time: ref.time, revision: ref.revision }]
          : [];
      });
      return newestSnapshot(snaps);
    },

    async scheduled(fromEndpoint, schedule) {
      const last = await self.latest();
      let taken: SnapshotWritten | undefined;
      if (isBackupDue(last?.time, now(), schedule.intervalMinutes)) {
        taken = await self.snapshot(fromEndpoint, 'scheduled');
      }
      const pruned = await self.prune(schedule.retentionDays);
      return {
        taken,
        pruned,
        nextInMs: nextBackupInMs(taken?.time ?? last?.time, now(), schedule.intervalMinutes),
      };
    },
  };
  return self;
}
