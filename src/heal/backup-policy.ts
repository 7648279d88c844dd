/**
 * Backup policy (pure): how snapshots are named, which ones retention keeps, and when the next one
 * is due. The S3 adapter (adapters/aws/s3-backup.ts) and the reconciler both use these functions,
 * so the names they write and the names they parse cannot drift apart.
 *
 * Key: `<cluster>/<ISO time>-rev<revision>.db`, e.g. `demo-eu/2026-01-01T00:15:00.000Z-rev4711.db`.
 * ISO times sort lexicographically in time order, so a plain S3 listing is already chronological.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Everything younger than this is kept, however many there are. */
export const KEEP_ALL_MS = 48 * HOUR_MS;

/** The suffix of the manifest object written next to every snapshot (`<key>.manifest.json`). */
export const MANIFEST_SUFFIX = '.manifest.json';

export interface SnapshotRef {
  key: string;
  /** Epoch milliseconds the snapshot was taken. */
  time: number;
  /** etcd revision the snapshot contains (at least). */
  revision: number;
}

/** What is known about a stored snapshot (listing + manifest). */
export interface SnapshotInfo extends SnapshotRef {
  /** Size in bytes of the snapshot object. */
  size: number;
  /** Hex SHA-256 of the whole object, as recorded when it was written (undefined: no manifest). */
  sha256: string | undefined;
}

/** The prefix every snapshot of a cluster lives under. */
export const snapshotPrefix = (cluster: string): string => `${cluster}/`;

export function snapshotKey(cluster: string, time: number, revision: number): string {
  if (!Number.isFinite(time)) throw new Error(`snapshot time must be a finite epoch-ms value (got ${time})`);
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new Error(`snapshot revision must be a non-negative integer (got ${revision})`);
  }
  return `${snapshotPrefix(cluster)}${new Date(time).toISOString()}-rev${revision}.db`;
}

const KEY_RE = /^(.+)\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)-rev(\d+)\.db$/;

/** The inverse of `snapshotKey`; undefined for anything else in the bucket (manifests, strays). */
export function parseSnapshotKey(key: string): (SnapshotRef & { cluster: string }) | undefined {
  const m = KEY_RE.exec(key);
  if (!m) return undefined;
  const time = Date.parse(m[2]!);
  const revision = Number(m[3]);
  if (!Number.isFinite(time) || !Number.isSafeInteger(revision)) return undefined;
  return { cluster: m[1]!, key, time, revision };
}

export const manifestKey = (snapshotKeyName: string): string => `${snapshotKeyName}${MANIFEST_SUFFIX}`;

/** UTC calendar day of an epoch-ms time, as a day number. */
const utcDay = (t: number): number => Math.floor(t / DAY_MS);

/**
 * Retention: keep every snapshot from the last 48 hours; older than that, keep the newest snapshot of
 * each UTC day for `retentionDays` days; delete the rest. The newest snapshot is always kept, however
 * old it is (if backups stopped, the last good copy must survive). Snapshots dated in the future
 * (clock skew) are kept. Returns the keys to delete, oldest first.
 */
export function snapshotsToDelete(
  snapshots: readonly SnapshotRef[],
  now: number,
  retentionDays: number,
): string[] {
  if (!Number.isInteger(retentionDays) || retentionDays < 1) {
    throw new Error(`retentionDays must be a positive integer (got ${retentionDays})`);
  }
  if (snapshots.length === 0) return [];
  const sorted = [...snapshots].sort(
    (a, b) => b.time - a.time || b.revision - a.revision || cmp(b.key, a.key),
  );
  const newest = sorted[0]!;
  const keptDays = new Set<number>();
  const doomed: SnapshotRef[] = [];
  for (const s of sorted) {
    const age = now - s.time;
    if (s === newest || age < KEEP_ALL_MS) continue;
    if (age >= retentionDays * DAY_MS) {
      doomed.push(s);
      continue;
    }
    const day = utcDay(s.time);
    if (keptDays.has(day)) doomed.push(s);
    else keptDays.add(day); // newest of its day (sorted newest first)
  }
  return doomed.sort((a, b) => a.time - b.time || cmp(a.key, b.key)).map((s) => s.key);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The newest snapshot, or undefined. */
export function newestSnapshot<T extends SnapshotRef>(snapshots: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const s of snapshots) {
    if (!best || s.time > best.time || (s.time === best.time && s.revision > best.revision)) best = s;
  }
  return best;
}

/** A scheduled backup is due when there is none yet, or the newest is at least one interval old. */
export function isBackupDue(
  lastSnapshotTime: number | undefined,
  now: number,
  intervalMinutes: number,
): boolean {
  if (!(intervalMinutes > 0))
    throw new Error(`backup interval must be positive (got ${intervalMinutes} minutes)`);
  if (lastSnapshotTime === undefined) return true;
  return now - lastSnapshotTime >= intervalMinutes * 60_000;
}

/** Milliseconds until the next scheduled backup (0 when one is due now). */
export function nextBackupInMs(
  lastSnapshotTime: number | undefined,
  now: number,
  intervalMinutes: number,
): number {
  if (isBackupDue(lastSnapshotTime, now, intervalMinutes)) return 0;
  return (lastSnapshotTime as number) + intervalMinutes * 60_000 - now;
}

/**
 * The backup status document (SSM `backupStatusParameter`), written by the snapshot invocation and
 * by the pass that requests one. The pass reads it (ObservedState.backup): how old the newest
 * snapshot is, whether the last attempt failed, whether one is under way.
 */
export interface BackupStatusDocument {
  lastSnapshot?: { at: string; key: string; bytes: number; revision: number };
  lastFailure?: { at: string; error: string };
  /** ISO time a snapshot was requested and not finished yet. */
  requestedAt?: string;
}

/** A request older than this is taken as lost (the invocation died): the next pass may ask again. */
export const SNAPSHOT_REQUEST_STALE_MS = 15 * 60_000;

const isoMs = (s: unknown): number | undefined => {
  const t = typeof s === 'string' ? Date.parse(s) : Number.NaN;
  return Number.isFinite(t) ? t : undefined;
};

/** The status as the pass observes it; undefined when missing or unreadable. */
export function parseBackupStatus(text: string | undefined): ObservedBackupView | undefined {
  if (text === undefined) return undefined;
  let d: BackupStatusDocument;
  try {
    d = JSON.parse(text) as BackupStatusDocument;
  } catch {
    return undefined;
  }
  if (!d || typeof d !== 'object') return undefined;
  const lastAt = isoMs(d.lastSnapshot?.at);
  const failedAt = isoMs(d.lastFailure?.at);
  const requestedAt = isoMs(d.requestedAt);
  return {
    ...(lastAt !== undefined ? { lastSnapshotAt: lastAt, lastSnapshotKey: String(d.lastSnapshot?.key) } : {}),
    ...(failedAt !== undefined ? { lastFailure: { at: failedAt, error: String(d.lastFailure?.error) } } : {}),
    ...(requestedAt !== undefined ? { requestedAt } : {}),
  };
}

/** What the pass sees of the backups (the shape of ObservedState.backup). */
export interface ObservedBackupView {
  lastSnapshotAt?: number;
  lastSnapshotKey?: string;
  lastFailure?: { at: number; error: string };
  requestedAt?: number;
}

/** A snapshot request is under way (asked recently and not answered since). */
export function snapshotInFlight(b: ObservedBackupView | undefined, now: number): boolean {
  if (b?.requestedAt === undefined || now - b.requestedAt >= SNAPSHOT_REQUEST_STALE_MS) return false;
  const answered = Math.max(b.lastSnapshotAt ?? 0, b.lastFailure?.at ?? 0);
  return answered < b.requestedAt;
}

/** The status after a snapshot attempt (`taken` or `failed`) or a request. */
export function nextBackupStatus(
  prev: BackupStatusDocument | undefined,
  event:
    | { kind: 'requested'; at: number }
    | { kind: 'taken'; at: number; key: string; bytes: number; revision: number }
    | { kind: 'failed'; at: number; error: string },
): BackupStatusDocument {
  const base: BackupStatusDocument = { ...(prev ?? {}) };
  const at = new Date(event.at).toISOString();
  switch (event.kind) {
    case 'requested':
      return { ...base, requestedAt: at };
    case 'taken': {
      const { lastFailure: _f, requestedAt: _r, ...rest } = base;
      return { ...rest, lastSnapshot: { at, key: event.key, bytes: event.bytes, revision: event.revision } };
    }
    case 'failed': {
      const { requestedAt: _r, ...rest } = base;
      return { ...rest, lastFailure: { at, error: event.error.slice(0, 1000) } };
    }
  }
}
