/**
 * Disaster recovery when etcd quorum is lost: restore a snapshot into a brand-new one-member etcd
 * cluster on a seed master, then grow back to M voters through the normal learner joins.
 *
 * Two parts:
 *  - `planRestore` (pure): which snapshot (the newest with a recorded SHA-256, or the one named),
 *    which instance is the seed, and the ordered steps. It refuses rather than guesses: a named
 *    snapshot that does not exist or was never completed is an error, not a fallback.
 *  - `restoreSnapshotOnNode` (runs on the seed): checks the downloaded file's SHA-256 and etcd's own
 *    hash trailer *before touching anything*, moves an existing data directory aside (never deletes
 *    it), and runs `etcdutl snapshot restore` (etcd 3.5; `etcdctl snapshot restore` is deprecated) with
 *    the new member's name, peer URL and a
 *    fresh cluster token. The caller then starts etcd on that data directory with
 *    `--initial-cluster-state new` (src/bootstrap/scripts/etcd-member.sh).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { newestSnapshot, type SnapshotInfo, snapshotPrefix } from './backup-policy.js';

const run = promisify(execFile);

export class RestoreError extends Error {
  override name = 'RestoreError';
}

export interface RestoreInstance {
  instanceId: string;
  /** InService (or Pending:Wait) instances can be the seed; terminating ones cannot. */
  usable: boolean;
  launchTime: number;
}

export interface RestoreRequest {
  cluster: string;
  /** The snapshots in the bucket (from `S3Backup.list`). */
  snapshots: readonly SnapshotInfo[];
  /** A key chosen by the operator; default: the newest snapshot with a recorded SHA-256. */
  snapshotKey?: string;
  /** M: the voters to grow back to. */
  expectedMasters: number;
  /** The master group's instances now. */
  instances: readonly RestoreInstance[];
}

export type RestoreStep =
  /** Download the snapshot and check its SHA-256 and etcd's hash trailer; stop here if either is wrong. */
  | { kind: 'verify-snapshot'; key: string; sha256: string }
  /** Record the restore (SSM) so the reconciler makes no membership change meanwhile, and the seed knows what to restore. */
  | { kind: 'record-restore'; key: string; sha256: string; seedInstanceId: string | undefined }
  /** Set the master group's desired capacity to 1 (the seed stays; the others leave). */
  | { kind: 'shrink-masters'; to: 1; keep: string | undefined }
  /** On the seed: stop etcd, move its data aside, `etcdutl snapshot restore`, start etcd with state `new`. */
  | { kind: 'restore-seed'; instanceId: string | undefined; key: string }
  /** Wait until the one-member cluster serves (it has a leader: itself). */
  | { kind: 'wait-seed-serving' }
  /** Set desired capacity back to M: each new master joins as a learner and is promoted, one at a time. */
  | { kind: 'grow-masters'; to: number }
  /** Remove the restore record: normal reconciling resumes. */
  | { kind: 'clear-restore' };

export interface RestorePlan {
  cluster: string;
  snapshot: SnapshotInfo & { sha256: string };
  /** The instance that becomes the seed (undefined: none usable; the group launches a fresh one). */
  seedInstanceId: string | undefined;
  steps: RestoreStep[];
}

export function planRestore(req: RestoreRequest): RestorePlan {
  if (!Number.isInteger(req.expectedMasters) || req.expectedMasters < 1 || req.expectedMasters % 2 === 0) {
    throw new RestoreError(`expected masters must be a positive odd number (got ${req.expectedMasters})`);
  }
  const mine = req.snapshots.filter((s) => s.key.startsWith(snapshotPrefix(req.cluster)));
  let chosen: SnapshotInfo | undefined;
  if (req.snapshotKey !== undefined) {
    chosen = mine.find((s) => s.key === req.snapshotKey);
    if (!chosen) {
      throw new RestoreError(
        `snapshot ${req.snapshotKey} does not exist for cluster ${req.cluster}` +
          (mine.length > 0 ? ` (newest: ${newestSnapshot(mine)?.key})` : ' (there are no snapshots)'),
      );
    }
    if (!chosen.sha256) {
      throw new RestoreError(
        `snapshot ${chosen.key} has no recorded SHA-256 (it was never completed): refusing it`,
      );
    }
  } else {
    chosen = newestSnapshot(mine.filter((s) => s.sha256 !== undefined));
    if (!chosen) {
      throw new RestoreError(
        mine.length === 0
          ? `there are no snapshots of cluster ${req.cluster}: nothing to restore`
          : `none of the ${mine.length} snapshots of cluster ${req.cluster} has a recorded SHA-256: refusing to restore`,
      );
    }
  }
  const snapshot = { ...chosen, sha256: chosen.sha256 as string };
  // The seed: the longest-running usable instance (ties by id), so the choice is stable across passes.
  const seed = [...req.instances]
    .filter((i) => i.usable)
    .sort((a, b) => a.launchTime - b.launchTime || (a.instanceId < b.instanceId ? -1 : 1))[0];
  const seedInstanceId = seed?.instanceId;
  return {
    cluster: req.cluster,
    snapshot,
    seedInstanceId,
    steps: [
      { kind: 'verify-snapshot', key: snapshot.key, sha256: snapshot.sha256 },
      { kind: 'record-restore', key: snapshot.key, sha256: snapshot.sha256, seedInstanceId },
      { kind: 'shrink-masters', to: 1, keep: seedInstanceId },
      { kind: 'restore-seed', instanceId: seedInstanceId, key: snapshot.key },
      { kind: 'wait-seed-serving' },
      { kind: 'grow-masters', to: req.expectedMasters },
      { kind: 'clear-restore' },
    ],
  };
}

export function describeRestoreStep(s: RestoreStep): string {
  switch (s.kind) {
    case 'verify-snapshot':
      return `verify ${s.key} (SHA-256 ${s.sha256.slice(0, 12)}..., etcd hash trailer)`;
    case 'record-restore':
      return `record the restore: membership changes stop; seed ${s.seedInstanceId ?? '(a new instance)'}`;
    case 'shrink-masters':
      return `shrink the master group to 1${s.keep ? `, keeping ${s.keep}` : ''}`;
    case 'restore-seed':
      return `on ${s.instanceId ?? 'the seed'}: stop etcd, move its data aside, restore ${s.key}, start a new one-member cluster`;
    case 'wait-seed-serving':
      return 'wait until the seed serves';
    case 'grow-masters':
      return `grow the master group back to ${s.to}: learner joins, one at a time`;
    case 'clear-restore':
      return 'clear the restore record: normal reconciling resumes';
  }
}

/** etcd appends the SHA-256 of the database to every snapshot. */
const TRAILER = 32;

/** Checks a snapshot file: its SHA-256 against `expectedSha256` and etcd's hash trailer against its contents. */
export async function verifySnapshotFile(path: string, expectedSha256: string): Promise<{ bytes: number }> {
  if (!existsSync(path)) throw new RestoreError(`snapshot file ${path} does not exist`);
  const whole = createHash('sha256');
  const body = createHash('sha256');
  let tail = Buffer.alloc(0);
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    whole.update(b);
    bytes += b.length;
    const joined = Buffer.concat([tail, b]);
    const cut = Math.max(0, joined.length - TRAILER);
    body.update(joined.subarray(0, cut));
    tail = Buffer.from(joined.subarray(cut));
  }
  const sha = whole.digest('hex');
  if (sha !== expectedSha256) {
    throw new RestoreError(
      `snapshot ${path} is corrupt or truncated: its SHA-256 is ${sha}, expected ${expectedSha256} (${bytes} bytes). Nothing was changed.`,
    );
  }
  if (bytes <= TRAILER || !body.digest().equals(tail)) {
    throw new RestoreError(
      `snapshot ${path} has no valid etcd hash trailer (not an etcd snapshot, or cut short). Nothing was changed.`,
    );
  }
  return { bytes };
}

export interface NodeRestoreParams {
  /** The downloaded snapshot file. */
  snapshotPath: string;
  expectedSha256: string;
  /** The new member's name (tripod: the instance id). */
  name: string;
  /** The new member's peer URL (`https://<ip>:2380`). */
  peerURL: string;
  dataDir: string;
  /** The new cluster's token (default: `tripod-restore-<time>`: old members cannot mistake it for theirs). */
  clusterToken?: string;
  /** The etcdutl binary (default: `etcdutl` on PATH; the nodes install it with etcd). */
  etcdutl?: string;
  now?: () => number;
}

/** The `etcdutl snapshot restore` command line (pure). */
export function snapshotRestoreArgs(p: NodeRestoreParams & { clusterToken: string }): string[] {
  return [
    'snapshot',
    'restore',
    p.snapshotPath,
    `--name=${p.name}`,
    `--initial-cluster=${p.name}=${p.peerURL}`,
    `--initial-advertise-peer-urls=${p.peerURL}`,
    `--initial-cluster-token=${p.clusterToken}`,
    `--data-dir=${p.dataDir}`,
  ];
}

/**
 * On the seed: verify, move the old data aside, restore. Returns where the old data went (if any).
 * Etcd must not be running on `dataDir` (the caller stops it first).
 */
export async function restoreSnapshotOnNode(
  p: NodeRestoreParams,
): Promise<{ movedAside: string | undefined; clusterToken: string; bytes: number }> {
  const { bytes } = await verifySnapshotFile(p.snapshotPath, p.expectedSha256);
  const now = (p.now ?? Date.now)();
  const clusterToken = p.clusterToken ?? `tripod-restore-${now}`;
  let movedAside: string | undefined;
  const existedEmpty = existsSync(p.dataDir) && readdirSync(p.dataDir).length === 0;
  if (existsSync(p.dataDir) && !existedEmpty) {
    movedAside = `${p.dataDir}.before-restore-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    await rename(p.dataDir, movedAside);
  }
  try {
    await run(p.etcdutl ?? 'etcdutl', snapshotRestoreArgs({ ...p, clusterToken }));
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    // Whatever etcdutl left in the data directory is ours to remove; then the old data goes back.
    if (movedAside || !existedEmpty) await rm(p.dataDir, { recursive: true, force: true });
    if (movedAside) await rename(movedAside, p.dataDir);
    throw new RestoreError(
      `etcdutl snapshot restore of ${p.snapshotPath} into ${p.dataDir} failed: ${(err.stderr || err.message).trim()}` +
        (movedAside ? ' (the old data directory was put back)' : ''),
    );
  }
  return { movedAside, clusterToken, bytes };
}

export interface RestoreRecord {
  bucket: string;
  key: string;
  sha256: string;
  revision: number;
  seedInstanceId: string | undefined;
  expectedMasters: number;
  /** ISO time. */
  requestedAt: string;
  /**
   * `tripod restore --force`: the operator restores although the reconciler did not report quorum
   * lost (a data rollback, or a reconciler cut off from etcd). Without it the reconciler lets no
   * master go and publishes no restore while it sees quorum held or cannot tell.
   */
  force?: boolean;
}

/** The reconciler's status document, as far as the restore checks read it. */
export interface RestoreStatusView {
  at: string;
  members: ReadonlyArray<{ id: string; name: string; learner?: true; healthy: boolean; leader?: true }>;
  memory: {
    quorum?: { state: 'held' | 'lost' | 'unknown'; since: number; why: string };
    restore?: { requestedAt: string; seedInstanceId?: string; publishedAt?: number };
  };
}

export interface RestoreCheckOptions {
  /** Quorum must have been reported lost for at least this long (a short election is not a loss). */
  minLostMs: number;
  /** The status document must be at most this old (the schedule publishes one a minute). */
  maxStatusAgeMs: number;
}

export const RESTORE_CHECK_DEFAULTS: RestoreCheckOptions = { minLostMs: 120_000, maxStatusAgeMs: 180_000 };

/**
 * Why a restore must not start, or undefined when it may: the reconciler's own, recent status must
 * say quorum has been lost for `minLostMs` (the CLI cannot reach etcd in the private subnets; the
 * reconciler can, and records its verdict every pass: heal/phases/restore.ts assessQuorum).
 */
export function restoreRefusal(
  status: RestoreStatusView | undefined,
  now: number,
  opts: RestoreCheckOptions = RESTORE_CHECK_DEFAULTS,
): string | undefined {
  const s = (ms: number) => `${Math.round(ms / 1000)} s`;
  if (!status) return 'the reconciler has published no status: it cannot tell whether quorum is lost';
  const age = now - Date.parse(status.at);
  if (!(age <= opts.maxStatusAgeMs)) {
    return `the reconciler's status is ${Number.isFinite(age) ? s(age) : 'of unknown'} old (at most ${s(opts.maxStatusAgeMs)}): is the reconciler running?`;
  }
  const q = status.memory.quorum;
  if (!q) return "the reconciler's status does not report quorum (an older reconciler: upgrade it first)";
  if (q.state !== 'lost') return `the reconciler reports quorum ${q.state}: ${q.why}`;
  if (now - q.since < opts.minLostMs) {
    return `quorum has been lost for only ${s(now - q.since)} (${q.why}): wait until ${s(opts.minLostMs)}`;
  }
  return undefined;
}

export type RestoreStage =
  /** The reconciler has not taken the record up yet, or the group has not shrunk to the seed. */
  | 'shrinking'
  /** The seed's restore join is published: it restores. */
  | 'restoring'
  /** The seed serves the restored one-member cluster: grow the group back (`--finish`). */
  | 'serving';

/** How far the reconciler took the restore `requestedAt`, from its status document. */
export function restoreStage(status: RestoreStatusView | undefined, requestedAt: string): RestoreStage {
  const r = status?.memory.restore;
  if (!status || r?.requestedAt !== requestedAt || r.publishedAt === undefined) return 'shrinking';
  const [only, ...rest] = status.members;
  if (
    only &&
    rest.length === 0 &&
    only.name === r.seedInstanceId &&
    only.healthy &&
    only.leader &&
    !only.learner &&
    Date.parse(status.at) > r.publishedAt
  ) {
    return 'serving';
  }
  return 'restoring';
}
