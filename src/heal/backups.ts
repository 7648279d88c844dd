/**
 * The two halves of a snapshot, through ports only, so the Lambda handler and the simulator run the
 * same code (issue 14, finding 5):
 *  - requestSnapshot: what a pass does before a membership change and the schedule does when one is
 *    due: unless one is under way, write `requestedAt` to the backup status and start a snapshot
 *    invocation (Lambda: an asynchronous Invoke of the function), then return at once;
 *  - takeSnapshot: what that invocation does: pick a healthy voter (a follower when there is one: the
 *    leader is busiest), stream the snapshot to the store, apply retention, publish the backup status.
 */

import { backupStatusParameter } from '../contract/protocol.js';
import {
  type BackupStatusDocument,
  isBackupDue,
  nextBackupStatus,
  parseBackupStatus,
  snapshotInFlight,
} from './backup-policy.js';
import { backupSchedule, type ReconcilerConfig } from './config.js';
import type { SnapshotRequestDetail } from './events.js';
import { candidateEndpoints, observeEtcd } from './observe.js';
import type { BackupPort, EtcdPort, FleetPort, ParameterPort } from './ports.js';
import { isHealthyVoter } from './quorum.js';
import type { StatusDocument } from './status.js';

/** The snapshot store a snapshot invocation writes to (S3Backup): one snapshot, then retention. */
export interface SnapshotStorePort {
  take(
    fromEndpoint: string,
    reason: string,
    retentionDays: number,
  ): Promise<{ key: string; bytes: number; revision: number; pruned: string[] }>;
}

/**
 * What happened to backups on this invocation: on the schedule, whether a snapshot was requested;
 * on a snapshot request, whether it was taken.
 */
export type BackupOutcome =
  | { outcome: 'requested'; reason: string }
  | { outcome: 'in-flight'; since: string }
  | { outcome: 'not-due'; nextInMs: number }
  | { outcome: 'taken'; key: string; bytes: number; pruned: number }
  | { outcome: 'failed'; error: string };

/** The backup status document (undefined: none yet, or unreadable). */
export async function readBackupStatus(
  parameters: ParameterPort,
  cluster: string,
): Promise<BackupStatusDocument | undefined> {
  const text = await parameters.get(backupStatusParameter(cluster));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as BackupStatusDocument;
  } catch {
    return undefined;
  }
}

/**
 * Asks for a snapshot in an invocation of its own, unless one is under way: writes `requestedAt`
 * to the backup status, then starts the invocation (`start`). Never streams a snapshot.
 */
export async function requestSnapshot(
  parameters: ParameterPort,
  config: ReconcilerConfig,
  now: number,
  start: ((detail: SnapshotRequestDetail) => Promise<void>) | undefined,
  reason: string,
): Promise<BackupOutcome> {
  const prev = await readBackupStatus(parameters, config.cluster);
  const view = parseBackupStatus(prev === undefined ? undefined : JSON.stringify(prev));
  if (snapshotInFlight(view, now)) return { outcome: 'in-flight', since: prev?.requestedAt ?? '' };
  if (!start) return { outcome: 'failed', error: 'this function cannot request snapshots' };
  const requestedAt = new Date(now).toISOString();
  await parameters.put(
    backupStatusParameter(config.cluster),
    JSON.stringify(nextBackupStatus(prev, { kind: 'requested', at: now })),
  );
  await start({ cluster: config.cluster, reason, requestedAt });
  return { outcome: 'requested', reason };
}

/**
 * On the schedule, after the pass: request a snapshot when one is due (`request`, e.g.
 * requestSnapshot with the reason `scheduled`); never a stream. A failure is an outcome.
 */
export async function scheduledSnapshot(
  parameters: ParameterPort,
  config: ReconcilerConfig,
  now: number,
  request: () => Promise<BackupOutcome>,
): Promise<BackupOutcome> {
  try {
    const view = parseBackupStatus(
      JSON.stringify((await readBackupStatus(parameters, config.cluster)) ?? {}),
    );
    const { intervalMinutes } = backupSchedule(config);
    return isBackupDue(view?.lastSnapshotAt, now, intervalMinutes)
      ? await request()
      : { outcome: 'not-due', nextInMs: (view?.lastSnapshotAt ?? now) + intervalMinutes * 60_000 - now };
  } catch (e) {
    return { outcome: 'failed', error: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The backup port of a pass: a snapshot before a membership change is only requested (`request`,
 * e.g. requestSnapshot) and the pass goes on; a request that cannot be made fails the action (the
 * change still goes ahead: backups protect but never block).
 */
export function requestingBackupPort(request: (reason: string) => Promise<BackupOutcome>): BackupPort {
  return {
    snapshot: async (_from, reason) => {
      const r = await request(reason);
      if (r.outcome === 'failed') throw new Error(r.error);
      return {
        requested:
          r.outcome === 'requested'
            ? 'requested'
            : `already under way since ${r.outcome === 'in-flight' ? r.since : '?'}`,
      };
    },
  };
}

/**
 * A snapshot invocation: from a healthy voter, streamed to the store, then retention; the backup
 * status says how it went (a failure too: the pass observes it). Never throws for the snapshot's
 * own failure (that is an outcome); a failure to write the failure is reported through `warn`.
 */
export async function takeSnapshot(
  ports: { fleet: FleetPort; etcd: EtcdPort; parameters: ParameterPort; now(): number },
  store: SnapshotStorePort | undefined,
  config: ReconcilerConfig,
  detail: SnapshotRequestDetail,
  warn: (message: string) => void = () => {},
): Promise<BackupOutcome> {
  const { parameters } = ports;
  const started = ports.now();
  try {
    if (!store) throw new Error('no backup bucket configured');
    // Only etcd's client endpoints are wanted, and a warm pool instance runs no etcd: no DescribeWarmPool.
    const group = await ports.fleet.describeGroup(config.masterGroupName, { warmPool: false });
    const seen = await observeEtcd(ports.etcd, candidateEndpoints(group.instances, config));
    const from = seen.members
      .filter((m) => isHealthyVoter(m, seen) && m.clientURLs[0])
      .sort((a, b) => Number(a.id === seen.leaderId) - Number(b.id === seen.leaderId))[0]?.clientURLs[0];
    if (!from)
      throw new Error(
        `no healthy etcd voter to take the snapshot from${seen.error ? ` (${seen.error})` : ''}`,
      );
    const r = await store.take(from, detail.reason, backupSchedule(config).retentionDays);
    await parameters.put(
      backupStatusParameter(config.cluster),
      JSON.stringify(
        nextBackupStatus(await readBackupStatus(parameters, config.cluster), {
          kind: 'taken',
          at: started,
          key: r.key,
          bytes: r.bytes,
          revision: r.revision,
        }),
      ),
    );
    return { outcome: 'taken', key: r.key, bytes: r.bytes, pruned: r.pruned.length };
  } catch (e) {
    const outcome: BackupOutcome = { outcome: 'failed', error: e instanceof Error ? e.message : String(e) };
    await parameters
      .put(
        backupStatusParameter(config.cluster),
        JSON.stringify(
          nextBackupStatus(await readBackupStatus(parameters, config.cluster).catch(() => undefined), {
            kind: 'failed',
            at: ports.now(),
            error: outcome.error,
          }),
        ),
      )
      .catch((err) => warn(`backup status not updated: ${(err as Error).message}`));
    return outcome;
  }
}

/**
 * The status document with a line for this backup appended to its last actions (the pass published
 * the document; a snapshot invocation, or a scheduled request that failed, adds its line). Throws
 * when the stored text is not JSON.
 */
export function statusWithBackup(
  text: string | undefined,
  outcome: BackupOutcome,
  now: number,
): StatusDocument {
  const doc = (text ? JSON.parse(text) : {}) as Partial<StatusDocument>;
  const line: StatusDocument['lastActions'][number] = {
    at: new Date(now).toISOString(),
    action: 'backup',
    outcome: outcome.outcome === 'failed' ? 'failed' : 'ok',
    detail:
      outcome.outcome === 'failed'
        ? outcome.error
        : outcome.outcome === 'taken'
          ? `${outcome.key} (${outcome.bytes} bytes), ${outcome.pruned} pruned`
          : outcome.outcome,
  };
  return {
    ...doc,
    lastActions: [...(Array.isArray(doc.lastActions) ? doc.lastActions : []), line],
    waits: Array.isArray(doc.waits) ? doc.waits : [],
  } as StatusDocument;
}
