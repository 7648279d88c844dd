/**
 * The EventBridge events the reconciler is triggered by, validated at run time. EventBridge delivers
 * "best effort" (late, duplicated or lost), and anything can be pointed at the function, so every
 * event is checked for its shape and source; whatever is not one of ours comes back as `ignored`
 * with the reason, for the log.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import {
  MEMBER_STARTED_DETAIL_TYPE,
  NODE_EVENT_SOURCE,
  NODE_READY_DETAIL_TYPE,
  SNAPSHOT_DETAIL_TYPE,
  SNAPSHOT_EVENT_SOURCE,
} from '../contract/protocol.js';
import type { LifecycleHook } from './actions.js';

export const LAUNCH_LIFECYCLE_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';
export const TERMINATE_LIFECYCLE_DETAIL_TYPE = 'EC2 Instance-terminate Lifecycle Action';
export const STATE_CHANGE_DETAIL_TYPE = 'EC2 Instance State-change Notification';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';

/** `detail` of an Auto Scaling lifecycle action event (launching or terminating). */
export interface LifecycleActionDetail {
  LifecycleActionToken: string;
  AutoScalingGroupName: string;
  LifecycleHookName: string;
  EC2InstanceId: string;
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
  NotificationMetadata?: string;
  Origin?: string;
  Destination?: string;
}

/** `detail` of an EC2 instance state-change notification. */
export interface InstanceStateChangeDetail {
  'instance-id': string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated' | 'stopping' | 'stopped';
}

/** `detail` of the event a node sends (source `tripod.node`) once its own API server is ready. */
export interface NodeReadyDetail {
  cluster: string;
  instanceId: string;
  /** The node's private IP and zone (informational: the reconciler reads both from EC2). */
  ip?: string;
  zone?: string;
  role?: 'master' | 'worker';
}

/**
 * `detail` of the event a master sends (source `tripod.node`) once its etcd member serves, repeated
 * while the member is still a learner: the reconciler tries the promotion again.
 */
export interface MemberStartedDetail {
  cluster: string;
  instanceId: string;
  ip?: string;
  zone?: string;
  /** The member id (uint64 as a decimal string, as etcd's JSON API gives it). Informational. */
  memberId?: string;
}

export type LifecycleActionEvent = EventBridgeEvent<
  typeof LAUNCH_LIFECYCLE_DETAIL_TYPE | typeof TERMINATE_LIFECYCLE_DETAIL_TYPE,
  LifecycleActionDetail
>;
export type InstanceStateChangeEvent = EventBridgeEvent<
  typeof STATE_CHANGE_DETAIL_TYPE,
  InstanceStateChangeDetail
>;
export type NodeReadyEvent = EventBridgeEvent<typeof NODE_READY_DETAIL_TYPE, NodeReadyDetail>;
export type MemberStartedEvent = EventBridgeEvent<typeof MEMBER_STARTED_DETAIL_TYPE, MemberStartedDetail>;
export type ScheduledEvent = EventBridgeEvent<typeof SCHEDULED_DETAIL_TYPE, Record<string, unknown>>;

/** `detail` of the snapshot request the reconciler sends itself (an asynchronous invocation). */
export interface SnapshotRequestDetail {
  cluster: string;
  /** Why: `scheduled`, or `before <membership change>`. */
  reason: string;
  /** ISO time of the request. */
  requestedAt: string;
}
export type SnapshotRequestEvent = EventBridgeEvent<typeof SNAPSHOT_DETAIL_TYPE, SnapshotRequestDetail>;

export type Trigger =
  | { kind: 'lifecycle'; hook: LifecycleHook; event: LifecycleActionEvent }
  | { kind: 'state-change'; event: InstanceStateChangeEvent }
  | { kind: 'node-ready'; event: NodeReadyEvent }
  | { kind: 'member-started'; event: MemberStartedEvent }
  | { kind: 'schedule'; event: ScheduledEvent }
  | { kind: 'snapshot'; event: SnapshotRequestEvent }
  | { kind: 'ignored'; reason: string };

const nonEmpty = z.string().check(z.minLength(1));

const envelope = z.object({
  version: z.string(),
  id: nonEmpty,
  'detail-type': z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.unknown(),
});

const instanceId = z.string().check(z.regex(/^i-[0-9a-f]{8,17}$/, 'an EC2 instance id (i-...)'));

const lifecycleDetail = z.object({
  LifecycleActionToken: nonEmpty,
  AutoScalingGroupName: nonEmpty,
  LifecycleHookName: nonEmpty,
  EC2InstanceId: instanceId,
  LifecycleTransition: z.enum(['autoscaling:EC2_INSTANCE_LAUNCHING', 'autoscaling:EC2_INSTANCE_TERMINATING']),
  NotificationMetadata: z.optional(z.string()),
  Origin: z.optional(z.string()),
  Destination: z.optional(z.string()),
});

const stateChangeDetail = z.object({
  'instance-id': instanceId,
  state: z.enum(['pending', 'running', 'shutting-down', 'terminated', 'stopping', 'stopped']),
});

const nodeReadyDetail = z.object({
  cluster: nonEmpty,
  instanceId,
  ip: z.optional(z.string()),
  zone: z.optional(z.string()),
  role: z.optional(z.enum(['master', 'worker'])),
});

const memberStartedDetail = z.object({
  cluster: nonEmpty,
  instanceId,
  ip: z.optional(z.string()),
  zone: z.optional(z.string()),
  memberId: z.optional(z.string().check(z.regex(/^[0-9]{1,20}$/, 'an etcd member id (decimal)'))),
});

const scheduledDetail = z.record(z.string(), z.unknown());

const snapshotDetail = z.object({ cluster: nonEmpty, reason: z.string(), requestedAt: z.string() });

/** `field: problem` for each issue, e.g. `detail.EC2InstanceId: an EC2 instance id (i-...)`. */
function describeIssues(error: z.core.$ZodError, prefix: string): string {
  return error.issues
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(event)'}: ${i.message}`)
    .join('; ');
}

/** Validates an incoming event and says which trigger it is; never throws. */
export function parseTrigger(input: unknown): Trigger {
  const env = envelope.safeParse(input);
  if (!env.success)
    return { kind: 'ignored', reason: `not an EventBridge event: ${describeIssues(env.error, '')}` };
  const e = env.data;
  const detailType = e['detail-type'];
  const withDetail = <D>(
    schema: z.ZodMiniType<D>,
  ): { ok: true; detail: D } | { ok: false; reason: string } => {
    const d = schema.safeParse(e.detail);
    return d.success
      ? { ok: true, detail: d.data }
      : {
          ok: false,
          reason: `malformed "${detailType}" event ${e.id}: ${describeIssues(d.error, 'detail')}`,
        };
  };

  if (
    e.source === 'aws.autoscaling' &&
    (detailType === LAUNCH_LIFECYCLE_DETAIL_TYPE || detailType === TERMINATE_LIFECYCLE_DETAIL_TYPE)
  ) {
    const d = withDetail(lifecycleDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    const hook: LifecycleHook = detailType === LAUNCH_LIFECYCLE_DETAIL_TYPE ? 'launching' : 'terminating';
    const expected =
      hook === 'launching' ? 'autoscaling:EC2_INSTANCE_LAUNCHING' : 'autoscaling:EC2_INSTANCE_TERMINATING';
    if (d.detail.LifecycleTransition !== expected) {
      return {
        kind: 'ignored',
        reason: `malformed "${detailType}" event ${e.id}: detail.LifecycleTransition is ${d.detail.LifecycleTransition}, expected ${expected}`,
      };
    }
    return {
      kind: 'lifecycle',
      hook,
      event: { ...e, 'detail-type': detailType, detail: d.detail } as LifecycleActionEvent,
    };
  }
  if (e.source === 'aws.ec2' && detailType === STATE_CHANGE_DETAIL_TYPE) {
    const d = withDetail(stateChangeDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    return { kind: 'state-change', event: { ...e, 'detail-type': detailType, detail: d.detail } };
  }
  if (e.source === NODE_EVENT_SOURCE && detailType === NODE_READY_DETAIL_TYPE) {
    const d = withDetail(nodeReadyDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    return { kind: 'node-ready', event: { ...e, 'detail-type': detailType, detail: d.detail } };
  }
  if (e.source === NODE_EVENT_SOURCE && detailType === MEMBER_STARTED_DETAIL_TYPE) {
    const d = withDetail(memberStartedDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    return { kind: 'member-started', event: { ...e, 'detail-type': detailType, detail: d.detail } };
  }
  if (e.source === 'aws.events' && detailType === SCHEDULED_DETAIL_TYPE) {
    const d = withDetail(scheduledDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    return { kind: 'schedule', event: { ...e, 'detail-type': detailType, detail: d.detail } };
  }
  if (e.source === SNAPSHOT_EVENT_SOURCE && detailType === SNAPSHOT_DETAIL_TYPE) {
    const d = withDetail(snapshotDetail);
    if (!d.ok) return { kind: 'ignored', reason: d.reason };
    return { kind: 'snapshot', event: { ...e, 'detail-type': detailType, detail: d.detail } };
  }
  return {
    kind: 'ignored',
    reason: `not a tripod trigger: source "${e.source}", detail-type "${detailType}"`,
  };
}
