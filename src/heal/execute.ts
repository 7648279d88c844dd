/**
 * The executor: runs a pass's actions through the ports, in order. Before each membership change it
 * re-reads the membership and re-checks quorum on the target membership (quorum.ts), and aborts the
 * change when it is no longer safe. "Already done" is success: a removed member (404), an add of a
 * peer URL that is already a member, a lifecycle action already completed. A learner not yet in sync
 * turns into a wait. Every action gets a result: ok, skipped (with the reason) or failed (the error).
 */

import { bootFailureParameter, clusterRecordParameter, joinParameter } from '../contract/protocol.js';
import type { Action, ActionResult } from './actions.js';
import type { ReconcilerConfig } from './config.js';
import { candidateEndpoints, observeEtcd } from './observe.js';
import type { ObservedEtcd, ObservedState } from './observed.js';
import { clearRestore } from './phases/restore-execute.js';
import { EtcdError, type HealPorts, isNoActiveLifecycleAction } from './ports.js';
import { checkChange, isHealthyVoter, type MembershipChange, quorumOf } from './quorum.js';
import { joinParametersFor } from './roster.js';

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isKind = (e: unknown, kind: EtcdError['kind']) => e instanceof EtcdError && e.kind === kind;

/** Endpoints of started healthy voters, the leader first (membership calls must go to a voter). */
function voterEndpoints(etcd: ObservedEtcd, exceptId?: string): string[] {
  return etcd.members
    .filter((m) => isHealthyVoter(m, etcd) && m.id !== exceptId)
    .sort((a, b) => Number(b.id === etcd.leaderId) - Number(a.id === etcd.leaderId))
    .map((m) => m.clientURLs[0]!);
}

/** Below this much remaining invocation time a pass starts no new work (heartbeats and completions still run). */
export const START_WORK_RESERVE_MS = 20_000;
/**
 * How long a removal waits for etcd to elect a new leader when the member to remove led and died:
 * an election takes an election timeout or two (1 s by default on the masters, plus its random
 * spread); five seconds leaves room for a lost first round.
 */
export const LEADER_ELECTION_WAIT_MS = 5_000;
const LEADER_ELECTION_POLL_MS = 250;

export interface ExecuteOptions {
  /** The invocation's remaining time (the Lambda context's getRemainingTimeInMillis); none: no deadline. */
  remainingMs?: () => number;
}

/**
 * The order actions run in: launches completed CONTINUE and heartbeats first (both keep a hook from
 * its default result: a CONTINUE is a voter's launch done), then target (de)registrations and the
 * other completions, then the rest (leader moves, snapshots, membership changes, joins,
 * replacements) in decide's order. A hook is never left to time out behind a slow snapshot or
 * membership change, nor behind a target registration (an invocation dying between calls).
 */
const STAGE: Partial<Record<Action['kind'], number>> = {
  'heartbeat-lifecycle': 0,
  'deregister-target': 1,
  'register-target': 1,
  'complete-lifecycle': 1,
};
const stageOf = (a: Action): number =>
  a.kind === 'complete-lifecycle' && a.hook === 'launching' && a.result === 'CONTINUE'
    ? 0
    : (STAGE[a.kind] ?? 2);
export const executionOrder = (actions: readonly Action[]): Action[] =>
  actions
    .map((a, k) => ({ a, k, stage: stageOf(a) }))
    .sort((x, y) => x.stage - y.stage || x.k - y.k)
    .map((x) => x.a);

/** How many snapshots failed this pass (a metric: backups protect but never block a repair). */
export const snapshotFailures = (results: readonly ActionResult[]): number =>
  results.filter((r) => r.action.kind === 'snapshot' && r.outcome === 'failed').length;

export async function execute(
  actions: readonly Action[],
  ports: HealPorts,
  config: ReconcilerConfig,
  observed: ObservedState,
  options: ExecuteOptions = {},
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  const endpoints = () => [
    ...new Set([...voterEndpoints(observed.etcd), ...candidateEndpoints(observed.group.instances, config)]),
  ];
  let snapshotFailed: string | undefined;
  const group = config.masterGroupName;

  /** Runs `fn` against the first voter endpoint that answers (never `exceptId`, the member going away). */
  const onVoter = async <T>(
    etcd: ObservedEtcd,
    exceptId: string | undefined,
    fn: (ep: string) => Promise<T>,
  ) => {
    const eps = voterEndpoints(etcd, exceptId);
    let last: unknown = new Error('no healthy voter to send the change to');
    for (const ep of eps) {
      try {
        return await fn(ep);
      } catch (e) {
        if (!isKind(e, 'unavailable') && !isKind(e, 'timeout')) throw e;
        last = e;
      }
    }
    throw last;
  };

  /**
   * Polls the voters that answered (never the dead leader: a terminated instance's address may
   * drop packets, and each call to it would wait for the client's timeout) until a majority of all
   * voters names one leader other than `deadId`; then observes etcd once more for the re-check. At
   * most LEADER_ELECTION_WAIT_MS of polling, never into the invocation's last START_WORK_RESERVE_MS;
   * undefined when no new leader came in time.
   */
  const awaitNewLeader = async (seen: ObservedEtcd, deadId: string): Promise<ObservedEtcd | undefined> => {
    const sleep = ports.clock.sleep;
    if (!sleep) return undefined;
    const voters = seen.members.filter((m) => !m.isLearner);
    const quorum = quorumOf(voters.length);
    const alive = voters.filter((m) => m.id !== deadId && m.status.reachable).map((m) => m.clientURLs[0]!);
    if (alive.length < quorum) return undefined;
    const until = ports.clock.now() + LEADER_ELECTION_WAIT_MS;
    while (
      ports.clock.now() < until &&
      (options.remainingMs?.() ?? Number.POSITIVE_INFINITY) > START_WORK_RESERVE_MS
    ) {
      await sleep(LEADER_ELECTION_POLL_MS);
      const named = await Promise.all(
        alive.map((ep) =>
          ports.etcd.status(ep).then(
            (r) => r.leaderId,
            () => '0',
          ),
        ),
      );
      const votes = new Map<string, number>();
      for (const id of named) if (id !== '0' && id !== deadId) votes.set(id, (votes.get(id) ?? 0) + 1);
      if ([...votes.values()].some((n) => n >= quorum)) {
        const again = await observeEtcd(ports.etcd, endpoints());
        if (again.reachable && again.leaderId !== undefined && again.leaderId !== deadId) return again;
      }
    }
    return undefined;
  };

  const membershipChange = async (
    a: Action & { kind: 'add-learner' | 'remove-member' | 'promote-member' },
  ) => {
    const fresh = await observeEtcd(ports.etcd, endpoints());
    if (!fresh.reachable) return skip(a, `etcd unreachable on re-check (${fresh.error ?? 'no endpoint'})`);
    const mc: MembershipChange =
      a.kind === 'add-learner'
        ? { kind: 'add-learner', peerURL: a.peerURL }
        : a.kind === 'remove-member'
          ? { kind: 'remove', memberId: a.memberId }
          : { kind: 'promote', memberId: a.memberId };
    const verdict = checkChange(fresh, mc);
    if (!verdict.safe) return skip(a, `no longer safe: ${verdict.reason}`);
    switch (a.kind) {
      case 'remove-member': {
        if (!fresh.members.some((m) => m.id === a.memberId)) return ok(a, 'already removed');
        let current = fresh;
        if (
          current.leaderId === a.memberId &&
          !current.members.find((m) => m.id === a.memberId)?.status.reachable
        ) {
          // A leader that died: the others still name it until they elect a new one (an election
          // timeout or two). Wait for that, bounded, instead of leaving the removal to the next trigger.
          current = (await awaitNewLeader(current, a.memberId)) ?? current;
          const again = checkChange(current, mc);
          if (!again.safe) return skip(a, `no longer safe: ${again.reason}`);
        }
        if (current.leaderId === a.memberId) return skip(a, 'it still leads etcd: move leadership first');
        try {
          await onVoter(current, a.memberId, (ep) => ports.etcd.removeMember(ep, a.memberId));
          return ok(a);
        } catch (e) {
          if (isKind(e, 'not-found')) return ok(a, 'already removed');
          throw e;
        }
      }
      case 'add-learner': {
        const existing = fresh.members.find((m) => m.peerURLs.includes(a.peerURL));
        if (existing && existing.name !== '' && existing.name !== a.instanceId) {
          return skip(a, `peer URL held by member ${existing.id} (${existing.name}): the IP was reused`);
        }
        let memberId: string;
        let members: ReadonlyArray<{ id: string; name: string; peerURLs: string[] }>;
        if (existing) {
          memberId = existing.id;
          members = fresh.members;
        } else {
          const added = await onVoter(fresh, undefined, (ep) => ports.etcd.addLearner(ep, a.peerURL));
          memberId = added.member.id;
          members = added.members;
        }
        const params = joinParametersFor(a.instanceId, memberId, members);
        await ports.parameters.put(joinParameter(config.cluster, a.instanceId), JSON.stringify(params));
        return ok(a, `${existing ? 'already a member' : 'added'} as ${memberId}; join published`);
      }
      case 'promote-member': {
        try {
          await onVoter(fresh, undefined, (ep) => ports.etcd.promoteMember(ep, a.memberId));
          return ok(a);
        } catch (e) {
          if (isKind(e, 'precondition')) return skip(a, `waiting: ${errorText(e)}`);
          throw e;
        }
      }
    }
  };

  const ok = (action: Action, detail?: string): ActionResult => ({
    action,
    outcome: 'ok',
    ...(detail ? { detail } : {}),
  });
  const skip = (action: Action, reason: string): ActionResult => ({ action, outcome: 'skipped', reason });

  /** Backups protect but never block: a change after a failed snapshot goes ahead and says so. */
  const withoutSnapshot = (r: ActionResult): ActionResult =>
    snapshotFailed === undefined || r.outcome !== 'ok'
      ? r
      : {
          ...r,
          detail: `${r.detail ? `${r.detail}; ` : ''}went ahead without a snapshot (${snapshotFailed})`,
        };

  const run = async (a: Action): Promise<ActionResult> => {
    switch (a.kind) {
      case 'snapshot': {
        if (!ports.backup) return skip(a, 'no backup store configured');
        try {
          const snap = await ports.backup.snapshot(
            voterEndpoints(observed.etcd)[0] ?? endpoints()[0]!,
            a.reason,
          );
          snapshotFailed = undefined;
          return ok(
            a,
            'requested' in snap ? `snapshot ${snap.requested}` : `${snap.key} (${snap.bytes} bytes)`,
          );
        } catch (e) {
          snapshotFailed = errorText(e);
          throw e;
        }
      }
      case 'add-learner':
      case 'remove-member':
      case 'promote-member':
        return withoutSnapshot(await membershipChange(a));
      case 'record-cluster':
        await ports.parameters.put(
          clusterRecordParameter(config.cluster),
          JSON.stringify({ recordedAt: new Date(ports.clock.now()).toISOString() }),
        );
        return ok(a);
      case 'move-leader': {
        const leader = observed.etcd.members.find((m) => m.id === a.fromMemberId);
        const url = leader?.clientURLs[0];
        if (!url) return skip(a, 'the leader has no client URL');
        try {
          await ports.etcd.moveLeader(url, a.toMemberId);
          return ok(a);
        } catch (e) {
          if (!isKind(e, 'precondition')) throw e;
          // "not leader": leadership may have moved already.
          const s = await ports.etcd.status(url).catch(() => undefined);
          if (s && s.leaderId !== a.fromMemberId) return ok(a, `leadership already moved (to ${s.leaderId})`);
          throw e;
        }
      }
      case 'publish-join':
        await ports.parameters.put(joinParameter(config.cluster, a.instanceId), JSON.stringify(a.params));
        return ok(a);
      case 'delete-join':
        await ports.parameters.delete(joinParameter(config.cluster, a.instanceId));
        await ports.parameters.delete(bootFailureParameter(config.cluster, a.instanceId));
        return ok(a);
      case 'register-target':
        await ports.loadBalancer.registerTarget(config.apiTargetGroupArn, a.instanceId);
        return ok(a);
      case 'deregister-target':
        await ports.loadBalancer.deregisterTarget(config.apiTargetGroupArn, a.instanceId);
        return ok(a);
      case 'complete-lifecycle':
        try {
          await ports.fleet.completeLifecycleAction(group, a.instanceId, a.hook, a.result);
          return ok(a);
        } catch (e) {
          if (isNoActiveLifecycleAction(e)) return ok(a, 'already completed');
          throw e;
        }
      case 'heartbeat-lifecycle':
        await ports.fleet.recordLifecycleHeartbeat(group, a.instanceId, a.hook);
        return ok(a);
      case 'set-unhealthy':
        await ports.fleet.setInstanceUnhealthy(a.instanceId);
        return ok(a);
      case 'clear-restore':
        return clearRestore(ports, config.cluster, a);
    }
  };

  // Run in stage order; report in decide's order (results[k] is the result of actions[k]).
  const byAction = new Map<Action, ActionResult>();
  for (const a of executionOrder(actions)) {
    const left = options.remainingMs?.();
    if (left !== undefined && left < START_WORK_RESERVE_MS && stageOf(a) === 2) {
      byAction.set(
        a,
        skip(a, `not started: ${Math.round(left / 1000)} s left in this invocation (next pass)`),
      );
      continue;
    }
    try {
      byAction.set(a, await run(a));
    } catch (e) {
      byAction.set(a, { action: a, outcome: 'failed', error: errorText(e) });
    }
  }
  for (const a of actions) results.push(byAction.get(a)!);
  return results;
}
