/**
 * The roster: which etcd member belongs to which master instance. Members are named after their
 * instance id once started; before that (an added learner) only the peer URL built from the
 * instance's private IP ties them together.
 */

import { peerURL } from '../contract/protocol.js';
import type { ReconcilerConfig } from './config.js';
import type { JoinParameters, LifecycleState, ObservedInstance, ObservedMember } from './observed.js';

/** The instance is gone or going without a hook holding it: its member has no live instance. */
export const GONE_STATES: ReadonlySet<LifecycleState> = new Set([
  'Terminating',
  'Terminating:Proceed',
  'Terminated',
  'Detaching',
  'Detached',
]);

/** Masters that are, or are about to be, part of the control plane. */
export const RUNNING_STATES: ReadonlySet<LifecycleState> = new Set([
  'Pending',
  'Pending:Wait',
  'Pending:Proceed',
  'InService',
]);

/**
 * A warm pool instance (Warmed:*): it prepares (packages, images), then waits stopped or running
 * until the group takes it (Pending:Wait). It runs no etcd and is never a master, a member or a
 * seed candidate; only the node completes its warm-up hook (master.sh prepare).
 */
export const isWarm = (i: { lifecycleState: string }): boolean => i.lifecycleState.startsWith('Warmed:');

export const isGone = (i: ObservedInstance | undefined): boolean => !i || GONE_STATES.has(i.lifecycleState);
export const isRunning = (i: ObservedInstance): boolean => RUNNING_STATES.has(i.lifecycleState);

/** Oldest first, then by id: the order seeds and joins are chosen in. */
export const byLaunchThenId = (a: ObservedInstance, b: ObservedInstance) =>
  a.launchTime - b.launchTime || a.instanceId.localeCompare(b.instanceId);

/** The join of a master that starts a new one-member cluster (a brand-new cluster's seed, or a restore's). */
export const seedJoinParameters = (seed: ObservedInstance, peerURL: string) => ({
  name: seed.instanceId,
  initialCluster: `${seed.instanceId}=${peerURL}`,
  initialClusterState: 'new' as const,
});

export const instancePeerURL = (
  i: ObservedInstance,
  config: Pick<ReconcilerConfig, 'etcdScheme' | 'etcdPeerPort'>,
) => (i.privateIp === undefined ? undefined : peerURL(i.privateIp, config.etcdScheme, config.etcdPeerPort));

export interface Roster {
  instanceOf(m: ObservedMember): ObservedInstance | undefined;
  memberOf(i: ObservedInstance): ObservedMember | undefined;
}

export function buildRoster(
  instances: readonly ObservedInstance[],
  members: readonly ObservedMember[],
  config: Pick<ReconcilerConfig, 'etcdScheme' | 'etcdPeerPort'>,
): Roster {
  const byId = new Map(instances.map((i) => [i.instanceId, i]));
  const byPeer = new Map<string, ObservedInstance>();
  for (const i of instances) {
    // A pool instance is never a learner's: learners are added for Pending:Wait masters only, and
    // one in the pool may have been given the IP of a master that died before its learner started
    // (test/unit/roster-warm-pool.test.ts). That learner must stay a stray, or it blocks every join.
    if (isWarm(i)) continue;
    const url = instancePeerURL(i, config);
    // A terminated instance's IP may be reused by a new one: the live one wins.
    if (url && (!byPeer.has(url) || !isGone(i))) byPeer.set(url, i);
  }
  const instanceOf = (m: ObservedMember): ObservedInstance | undefined => {
    if (m.name !== '') return byId.get(m.name);
    for (const u of m.peerURLs) {
      const i = byPeer.get(u);
      if (i) return i;
    }
    return undefined;
  };
  const memberByInstance = new Map<string, ObservedMember>();
  for (const m of members) {
    const i = instanceOf(m);
    if (i && !memberByInstance.has(i.instanceId)) memberByInstance.set(i.instanceId, m);
  }
  return { instanceOf, memberOf: (i) => memberByInstance.get(i.instanceId) };
}

/**
 * Join parameters for `instanceId` joining `members` (which already include it, as the added
 * learner): `name=peerURL` of every member; the unnamed one is the joining instance.
 */
export function joinParametersFor(
  instanceId: string,
  memberId: string,
  members: ReadonlyArray<Pick<ObservedMember, 'id' | 'name' | 'peerURLs'>>,
): JoinParameters {
  const initialCluster = members
    .map((m) => {
      const name = m.id === memberId || m.name === '' ? instanceId : m.name;
      return `${name}=${m.peerURLs[0] ?? ''}`;
    })
    .sort()
    .join(',');
  return { name: instanceId, initialCluster, initialClusterState: 'existing', memberId };
}
