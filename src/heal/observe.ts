/**
 * The observer: one ObservedState from the ports. etcd calls are bounded: the member list once (from
 * the first started voter that answers), one status per member, and the alarm list only when a
 * status reports an alarm (or the adapter does not report etcd's `errors`): M+1 calls per steady pass.
 */

import {
  backupStatusParameter,
  bootFailurePath,
  clientURL,
  clusterRecordParameter,
  joinParameterPath,
  restoreParameter,
  signalWriterProblem,
  statusParameter,
} from '../contract/protocol.js';
import { parseBackupStatus } from './backup-policy.js';
import { type ReconcilerConfig, readsMasterWarmPool } from './config.js';
import {
  emptyMemory,
  type JoinParameters,
  type ObservedEtcd,
  type ObservedInstance,
  type ObservedMember,
  type ObservedState,
  type ObservedTarget,
} from './observed.js';
import type { EtcdMemberStatusReply, EtcdPort, FleetInstance, HealPorts } from './ports.js';
import { quorumOf } from './quorum.js';
import type { RestoreRecord } from './restore.js';
import { parseStatus, type StatusDocument } from './status.js';

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Order in which masters' endpoints are tried for the member list: InService first, then the rest. */
const ENDPOINT_ORDER: Record<string, number> = { InService: 0, 'Terminating:Wait': 1, 'Pending:Wait': 2 };

export function candidateEndpoints(
  instances: ReadonlyArray<Pick<FleetInstance, 'instanceId' | 'privateIp' | 'lifecycleState'>>,
  config: Pick<ReconcilerConfig, 'etcdScheme' | 'etcdClientPort'>,
): string[] {
  return instances
    .filter((i) => i.privateIp !== undefined && i.lifecycleState in ENDPOINT_ORDER)
    .sort(
      (a, b) =>
        ENDPOINT_ORDER[a.lifecycleState]! - ENDPOINT_ORDER[b.lifecycleState]! ||
        a.instanceId.localeCompare(b.instanceId),
    )
    .map((i) => clientURL(i.privateIp!, config.etcdScheme, config.etcdClientPort));
}

/** The member list (from the first endpoint that answers), each member's status, the leader, the alarms. */
export async function observeEtcd(etcd: EtcdPort, endpoints: readonly string[]): Promise<ObservedEtcd> {
  const failures: string[] = [];
  let listed: { endpoint: string; members: Awaited<ReturnType<EtcdPort['listMembers']>> } | undefined;
  for (const endpoint of endpoints) {
    try {
      listed = { endpoint, members: await etcd.listMembers(endpoint) };
      break;
    } catch (e) {
      failures.push(`${endpoint}: ${errorText(e)}`);
    }
  }
  if (!listed) {
    return {
      reachable: false,
      leaderId: undefined,
      leaderRaftIndex: undefined,
      members: [],
      error: failures.length ? failures.join('; ') : 'no master with an address to ask',
    };
  }
  const statuses = await Promise.all(
    listed.members.map(async (m): Promise<EtcdMemberStatusReply | string> => {
      const url = m.clientURLs[0];
      if (url === undefined) return 'not started';
      try {
        return await etcd.status(url);
      } catch (e) {
        return errorText(e);
      }
    }),
  );
  const replies = statuses.filter((s): s is EtcdMemberStatusReply => typeof s !== 'string');
  // The leader a majority of the voters names (a partitioned minority may still believe in an old
  // one, or in none): without such a majority there is no leader to agree with.
  const voterCount = listed.members.filter((m) => !m.isLearner).length;
  const votes = new Map<string, number>();
  listed.members.forEach((m, k) => {
    const r = statuses[k];
    if (m.isLearner || typeof r !== 'object' || !r.leaderId || r.leaderId === '0') return;
    votes.set(r.leaderId, (votes.get(r.leaderId) ?? 0) + 1);
  });
  const leaderId = [...votes].find(([, n]) => n >= quorumOf(voterCount))?.[0];
  const alarmsByMember = new Map<string, string[]>();
  const mayHaveAlarms = replies.some((r) => r.errors === undefined || r.errors.some((e) => /alarm/i.test(e)));
  let alarmError: string | undefined;
  if (mayHaveAlarms) {
    try {
      for (const a of await etcd.alarms(listed.endpoint)) {
        alarmsByMember.set(a.memberId, [...(alarmsByMember.get(a.memberId) ?? []), a.alarm]);
      }
    } catch (e) {
      alarmError = `alarms: ${errorText(e)}`;
    }
  }
  const members: ObservedMember[] = listed.members.map((m, k) => {
    const s = statuses[k]!;
    const alarms = alarmsByMember.get(m.id) ?? [];
    return {
      id: m.id,
      name: m.name,
      peerURLs: [...m.peerURLs],
      clientURLs: [...m.clientURLs],
      isLearner: m.isLearner,
      status:
        typeof s === 'string'
          ? { reachable: false, alarms, error: s }
          : {
              reachable: true,
              raftIndex: s.raftIndex,
              raftAppliedIndex: s.raftAppliedIndex,
              alarms,
              leaderId: s.leaderId || '0',
              // Alarm entries are every member's (etcd lists the cluster's alarms): `alarms` has them by member.
              errors: (s.errors ?? []).filter((e) => !/alarm/i.test(e)),
            },
    };
  });
  const leader = leaderId === undefined ? undefined : members.find((m) => m.id === leaderId);
  return {
    reachable: true,
    leaderId,
    leaderRaftIndex: leader?.status.raftIndex,
    members,
    ...(alarmError ? { error: alarmError } : {}),
  };
}

function parseJoins(cluster: string, byName: Record<string, string>): Record<string, JoinParameters> {
  const prefix = joinParameterPath(cluster);
  const joins: Record<string, JoinParameters> = {};
  for (const [name, value] of Object.entries(byName)) {
    try {
      const p = JSON.parse(value) as JoinParameters;
      if (typeof p?.name === 'string' && typeof p.initialCluster === 'string')
        joins[name.slice(prefix.length)] = p;
    } catch {
      // A malformed join is as good as none: decide re-publishes it.
    }
  }
  return joins;
}

/** What decide needs from the restore record; an unreadable record still stops membership changes. */
export function parseRestore(text: string): NonNullable<ObservedState['restore']> {
  try {
    const r = JSON.parse(text) as Partial<RestoreRecord>;
    return {
      requestedAt: typeof r.requestedAt === 'string' ? r.requestedAt : 'unknown',
      ...(typeof r.seedInstanceId === 'string' ? { seedInstanceId: r.seedInstanceId } : {}),
      ...(Number.isInteger(r.expectedMasters) ? { expectedMasters: r.expectedMasters as number } : {}),
      ...(r.force === true ? { force: true } : {}),
      ...(typeof r.key === 'string' && typeof r.sha256 === 'string' && typeof r.bucket === 'string'
        ? {}
        : { unreadable: true as const }),
    };
  } catch {
    return { requestedAt: 'unknown (unreadable record)', unreadable: true };
  }
}

export interface Observation {
  observed: ObservedState;
  /** The status document the previous pass published (undefined on the first pass or if unreadable). */
  previous: StatusDocument | undefined;
  /**
   * Node signals not counted, and why (written by another session than the instance's own), and what
   * the fleet could not read (a warm pool the role may not describe): logged.
   */
  ignoredSignals: string[];
}

export async function observe(ports: HealPorts, config: ReconcilerConfig): Promise<Observation> {
  const [
    group,
    targets,
    statusText,
    joinValues,
    failures,
    failureWriters,
    restoreText,
    clusterRecord,
    backupText,
  ] = await Promise.all([
    ports.fleet.describeGroup(config.masterGroupName, { warmPool: readsMasterWarmPool(config) }),
    config.apiTargetGroupArn
      ? ports.loadBalancer.describeTargets(config.apiTargetGroupArn)
      : Promise.resolve([] as ObservedTarget[]),
    ports.parameters.get(statusParameter(config.cluster)),
    ports.parameters.getByPath(joinParameterPath(config.cluster)),
    ports.parameters.getByPath(bootFailurePath(config.cluster)),
    ports.parameters.writers(bootFailurePath(config.cluster)),
    ports.parameters.get(restoreParameter(config.cluster)),
    ports.parameters.get(clusterRecordParameter(config.cluster)),
    config.backupBucket
      ? ports.parameters.get(backupStatusParameter(config.cluster))
      : Promise.resolve(undefined),
  ]);
  // A boot-failed record counts only when the master wrote it with its own session: any master's
  // role may write any instance's record, and a forged one would abandon a healthy launch.
  const failedPrefix = bootFailurePath(config.cluster);
  const bootFailed = new Set<string>();
  const ignoredSignals: string[] = [...(group.warnings ?? [])];
  for (const name of Object.keys(failures)) {
    const id = name.slice(failedPrefix.length);
    const problem = signalWriterProblem(failureWriters[name], config.cluster, 'master', id);
    if (problem) ignoredSignals.push(`ignored ${name}: ${problem}`);
    else bootFailed.add(id);
  }
  const [etcd, instances] = await Promise.all([
    observeEtcd(ports.etcd, candidateEndpoints(group.instances, config)),
    Promise.all(
      group.instances.map(async (i): Promise<ObservedInstance> => {
        const probed =
          i.privateIp !== undefined &&
          (i.lifecycleState === 'InService' || i.lifecycleState === 'Pending:Wait');
        const apiReady = probed ? await ports.probe.apiReady(i.privateIp!).catch(() => false) : false;
        return { ...i, apiReady, bootFailed: bootFailed.has(i.instanceId) };
      }),
    ),
  ]);
  const previous = statusText === undefined ? undefined : parseStatus(statusText);
  const backup = parseBackupStatus(backupText);
  return {
    observed: {
      cluster: config.cluster,
      group: { name: group.name, desired: group.desired, instances },
      etcd,
      targets: targets.map((t) => ({ instanceId: t.instanceId, health: t.health })),
      joins: parseJoins(config.cluster, joinValues),
      memory: previous?.memory ?? emptyMemory(),
      ...(restoreText === undefined ? {} : { restore: parseRestore(restoreText) }),
      ...(clusterRecord === undefined ? {} : { clusterRecorded: true }),
      ...(backup ? { backup } : {}),
    },
    previous,
    ignoredSignals,
  };
}
