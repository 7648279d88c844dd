/**
 * The steps a reconcile pass can take. `decide` returns them; `execute` runs them through ports.
 * Every action carries the reason it was chosen, in words a human reads in the timeline and logs.
 */

export type LifecycleHook = 'launching' | 'terminating';

export type Action =
  /** Transfer etcd leadership (sent to the leader's endpoint) before the leader leaves. */
  | { kind: 'move-leader'; fromMemberId: string; toMemberId: string; reason: string }
  | { kind: 'register-target'; instanceId: string; reason: string }
  | { kind: 'deregister-target'; instanceId: string; reason: string }
  /** Membership change. Already removed (404) is success. */
  | { kind: 'remove-member'; memberId: string; name: string; reason: string }
  /** Membership change: add the instance as a learner (idempotent: look for its peer URL first), then publish its join parameters. */
  | { kind: 'add-learner'; instanceId: string; peerURL: string; reason: string }
  /** Publish (or re-publish) join parameters for an instance whose member already exists, or for the seed. */
  | {
      kind: 'publish-join';
      instanceId: string;
      params: import('./observed.js').JoinParameters;
      reason: string;
    }
  /** Membership change. "Not in sync" (412) means wait and retry on a later pass. */
  | { kind: 'promote-member'; memberId: string; name: string; reason: string }
  | {
      kind: 'complete-lifecycle';
      instanceId: string;
      hook: LifecycleHook;
      result: 'CONTINUE' | 'ABANDON';
      reason: string;
    }
  /** Keep a pending lifecycle action alive while we wait for something (a learner catching up, a node booting). */
  | { kind: 'heartbeat-lifecycle'; instanceId: string; hook: LifecycleHook; reason: string }
  /** Tell the group to replace an instance whose member stayed unhealthy past the threshold. */
  | { kind: 'set-unhealthy'; instanceId: string; reason: string }
  /** Delete the join (and boot-failure) parameters of an instance that is gone. */
  | { kind: 'delete-join'; instanceId: string; reason: string }
  /** Remove the restore record (`tripod restore`): the restored cluster serves, joins resume. */
  | { kind: 'clear-restore'; requestedAt: string; reason: string }
  /** Write the durable record that this cluster's etcd exists (clusterRecordParameter), once. */
  | { kind: 'record-cluster'; reason: string }
  /** Snapshot etcd to the backup store before a membership change (rule 10). */
  | { kind: 'snapshot'; reason: string };

/** What running one action came to (execute.ts): the status document and the logs report it. */
export type ActionResult =
  | { action: Action; outcome: 'ok'; detail?: string }
  | { action: Action; outcome: 'skipped'; reason: string }
  | { action: Action; outcome: 'failed'; error: string };

export type ActionKind = Action['kind'];

export const MEMBERSHIP_CHANGES: ReadonlySet<ActionKind> = new Set([
  'add-learner',
  'promote-member',
  'remove-member',
]);

export const isMembershipChange = (a: Action): boolean => MEMBERSHIP_CHANGES.has(a.kind);

/** One line for timelines and logs: `remove-member 1234 (i-0abc): its instance is terminated`. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'move-leader':
      return `move-leader ${a.fromMemberId} -> ${a.toMemberId}: ${a.reason}`;
    case 'register-target':
    case 'deregister-target':
    case 'set-unhealthy':
    case 'delete-join':
      return `${a.kind} ${a.instanceId}: ${a.reason}`;
    case 'remove-member':
    case 'promote-member':
      return `${a.kind} ${a.memberId} (${a.name || 'unnamed'}): ${a.reason}`;
    case 'add-learner':
      return `add-learner ${a.instanceId} ${a.peerURL}: ${a.reason}`;
    case 'publish-join':
      return `publish-join ${a.instanceId} (${a.params.initialClusterState}): ${a.reason}`;
    case 'complete-lifecycle':
      return `complete-lifecycle ${a.instanceId} ${a.hook} ${a.result}: ${a.reason}`;
    case 'heartbeat-lifecycle':
      return `heartbeat-lifecycle ${a.instanceId} ${a.hook}: ${a.reason}`;
    case 'clear-restore':
      return `clear-restore (${a.requestedAt}): ${a.reason}`;
    case 'record-cluster':
      return `record-cluster: ${a.reason}`;
    case 'snapshot':
      return `snapshot: ${a.reason}`;
  }
}
