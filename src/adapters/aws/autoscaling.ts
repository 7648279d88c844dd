/**
 * Auto Scaling: groups, lifecycle hooks and tags; completing lifecycle actions and heartbeats (which
 * moto lacks: tested with aws-sdk-client-mock). Thin: SDK calls in, plain values out.
 */
import {
  AttachLoadBalancerTargetGroupsCommand,
  CompleteLifecycleActionCommand,
  CreateAutoScalingGroupCommand,
  CreateOrUpdateTagsCommand,
  DeleteAutoScalingGroupCommand,
  DeleteLifecycleHookCommand,
  DeleteWarmPoolCommand,
  DescribeLifecycleHooksCommand,
  DescribeWarmPoolCommand,
  DetachLoadBalancerTargetGroupsCommand,
  PutLifecycleHookCommand,
  PutWarmPoolCommand,
  paginateDescribeAutoScalingGroups,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceProtectionCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AwsClients } from './clients.js';
import { collect, type Tags, waitFor } from './tags.js';

export interface LifecycleHookSpec {
  name: string;
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
  heartbeatTimeout: number;
  defaultResult: 'CONTINUE' | 'ABANDON';
}

export interface GroupInstance {
  instanceId: string;
  zone: string;
  lifecycleState: string;
  health: string;
}

export interface AutoScalingGroup {
  name: string;
  arn: string;
  min: number;
  max: number;
  desired: number;
  subnetIds: string[];
  launchTemplate: { id: string; version: string } | undefined;
  targetGroupArns: string[];
  tags: Tags;
  instances: GroupInstance[];
  /** Set while the group is being deleted. */
  status: string | undefined;
}

export interface GroupInput {
  name: string;
  min: number;
  max: number;
  desired: number;
  subnetIds: string[];
  launchTemplateId: string;
  targetGroupArns: string[];
  tags: Tags;
  hooks: LifecycleHookSpec[];
}

/** One call (pages are per 100 groups): the instance count does not change the cost. */
export async function describeGroups(aws: AwsClients, names: string[]): Promise<AutoScalingGroup[]> {
  if (names.length === 0) return [];
  const groups = await collect(
    paginateDescribeAutoScalingGroups({ client: aws.autoScaling }, { AutoScalingGroupNames: names }),
    (p) => p.AutoScalingGroups,
  );
  return groups.map((g) => {
    const lt = g.LaunchTemplate ?? g.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
    const tags: Tags = {};
    for (const t of g.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
    return {
      name: g.AutoScalingGroupName!,
      arn: g.AutoScalingGroupARN ?? '',
      min: g.MinSize ?? 0,
      max: g.MaxSize ?? 0,
      desired: g.DesiredCapacity ?? 0,
      subnetIds: (g.VPCZoneIdentifier ?? '').split(',').filter(Boolean).sort(),
      launchTemplate: lt ? { id: lt.LaunchTemplateId ?? '', version: lt.Version ?? '$Default' } : undefined,
      targetGroupArns: [...(g.TargetGroupARNs ?? [])].sort(),
      tags,
      instances: (g.Instances ?? []).map((i) => ({
        instanceId: i.InstanceId!,
        zone: i.AvailabilityZone ?? '',
        lifecycleState: i.LifecycleState ?? '',
        health: i.HealthStatus ?? '',
      })),
      status: g.Status,
    };
  });
}

const asgTags = (name: string, tags: Tags, propagate: boolean) =>
  Object.entries(tags).map(([Key, Value]) => ({
    ResourceId: name,
    ResourceType: 'auto-scaling-group',
    Key,
    Value,
    PropagateAtLaunch: propagate,
  }));

export async function createGroup(aws: AwsClients, g: GroupInput): Promise<void> {
  await aws.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: g.name,
      MinSize: g.min,
      MaxSize: g.max,
      DesiredCapacity: g.desired,
      VPCZoneIdentifier: g.subnetIds.join(','),
      LaunchTemplate: { LaunchTemplateId: g.launchTemplateId, Version: '$Default' },
      TargetGroupARNs: g.targetGroupArns,
      HealthCheckType: 'EC2',
      HealthCheckGracePeriod: 300,
      // Hooks exist before the first instance launches, so the very first masters wait too.
      LifecycleHookSpecificationList: g.hooks.map((h) => ({
        LifecycleHookName: h.name,
        LifecycleTransition: h.transition,
        HeartbeatTimeout: h.heartbeatTimeout,
        DefaultResult: h.defaultResult,
      })),
      Tags: asgTags(g.name, g.tags, false),
    }),
  );
}

export async function updateGroup(
  aws: AwsClients,
  name: string,
  fields: Partial<{
    min: number;
    max: number;
    desired: number;
    subnetIds: string[];
    launchTemplateId: string;
  }>,
): Promise<void> {
  await aws.autoScaling.send(
    new UpdateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      ...(fields.min !== undefined ? { MinSize: fields.min } : {}),
      ...(fields.max !== undefined ? { MaxSize: fields.max } : {}),
      ...(fields.desired !== undefined ? { DesiredCapacity: fields.desired } : {}),
      ...(fields.subnetIds ? { VPCZoneIdentifier: fields.subnetIds.join(',') } : {}),
      ...(fields.launchTemplateId
        ? { LaunchTemplate: { LaunchTemplateId: fields.launchTemplateId, Version: '$Default' } }
        : {}),
    }),
  );
}

/** Scale-in protection of instances (`tripod restore` keeps the seed while the group shrinks). */
export async function setInstanceProtection(
  aws: AwsClients,
  group: string,
  instanceIds: string[],
  protect: boolean,
): Promise<void> {
  if (instanceIds.length === 0) return;
  await aws.autoScaling.send(
    new SetInstanceProtectionCommand({
      AutoScalingGroupName: group,
      InstanceIds: instanceIds,
      ProtectedFromScaleIn: protect,
    }),
  );
}

export async function attachTargetGroups(aws: AwsClients, name: string, arns: string[]) {
  if (arns.length === 0) return;
  await aws.autoScaling.send(
    new AttachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: name, TargetGroupARNs: arns }),
  );
}

export async function detachTargetGroups(aws: AwsClients, name: string, arns: string[]) {
  if (arns.length === 0) return;
  await aws.autoScaling.send(
    new DetachLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: name, TargetGroupARNs: arns }),
  );
}

export async function putGroupTags(aws: AwsClients, name: string, tags: Tags) {
  if (Object.keys(tags).length === 0) return;
  await aws.autoScaling.send(new CreateOrUpdateTagsCommand({ Tags: asgTags(name, tags, false) }));
}

/** Deletes the group and its instances (ForceDelete), then waits until it is gone. */
export async function deleteGroup(aws: AwsClients, name: string, timeoutMs: number): Promise<void> {
  await aws.autoScaling.send(
    new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: name, ForceDelete: true }),
  );
  await waitFor(
    `Auto Scaling group ${name} to be deleted`,
    async () => ((await describeGroups(aws, [name])).length === 0 ? true : undefined),
    { timeoutMs, intervalMs: 1000 },
  );
}

/** Not paginated by AWS (a group has at most 50 hooks). */
export async function describeHooks(aws: AwsClients, group: string): Promise<LifecycleHookSpec[]> {
  const r = await aws.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group }));
  return (r.LifecycleHooks ?? []).map((h) => ({
    name: h.LifecycleHookName!,
    transition: h.LifecycleTransition as LifecycleHookSpec['transition'],
    heartbeatTimeout: h.HeartbeatTimeout ?? 3600,
    defaultResult: (h.DefaultResult ?? 'ABANDON') as LifecycleHookSpec['defaultResult'],
  }));
}

export async function putHook(aws: AwsClients, group: string, hook: LifecycleHookSpec) {
  await aws.autoScaling.send(
    new PutLifecycleHookCommand({
      AutoScalingGroupName: group,
      LifecycleHookName: hook.name,
      LifecycleTransition: hook.transition,
      HeartbeatTimeout: hook.heartbeatTimeout,
      DefaultResult: hook.defaultResult,
    }),
  );
}

export async function deleteHook(aws: AwsClients, group: string, name: string) {
  await aws.autoScaling.send(
    new DeleteLifecycleHookCommand({ AutoScalingGroupName: group, LifecycleHookName: name }),
  );
}

export async function completeLifecycleAction(
  aws: AwsClients,
  input: { group: string; hook: string; instanceId: string; result: 'CONTINUE' | 'ABANDON' },
): Promise<void> {
  await aws.autoScaling.send(
    new CompleteLifecycleActionCommand({
      AutoScalingGroupName: input.group,
      LifecycleHookName: input.hook,
      InstanceId: input.instanceId,
      LifecycleActionResult: input.result,
    }),
  );
}

export async function recordLifecycleHeartbeat(
  aws: AwsClients,
  input: { group: string; hook: string; instanceId: string },
): Promise<void> {
  await aws.autoScaling.send(
    new RecordLifecycleActionHeartbeatCommand({
      AutoScalingGroupName: input.group,
      LifecycleHookName: input.hook,
      InstanceId: input.instanceId,
    }),
  );
}

/** DescribeWarmPool's MaxRecords: its maximum (API_DescribeWarmPool: 50, not the 100 of other calls). */
export const WARM_POOL_PAGE = 50;

/** A group's warm pool: the settings tripod manages, and AWS's status of the pool. */
export interface WarmPool {
  /** Instances kept in the pool at least. */
  minSize: number;
  /** Group instances plus pool instances at most; undefined: AWS's default (the group's max size). */
  maxGroupPreparedCapacity: number | undefined;
  poolState: 'Stopped' | 'Running' | 'Hibernated';
  reuseOnScaleIn: boolean;
  /** `PendingDelete` while a deleted pool's instances go; undefined otherwise. */
  status: string | undefined;
  /** Instances in the pool now. */
  instances: number;
}

/**
 * The group's warm pool, or undefined when it has none. One call: the pool's instances are paged
 * (MaxRecords at most 50, API_DescribeWarmPool), but only the first page is read, as a count for
 * people (the spec allows 10); tripod manages none of them one by one, so the plan stays one call
 * whatever the pool's size.
 */
export async function describeWarmPool(aws: AwsClients, group: string): Promise<WarmPool | undefined> {
  const r = await aws.autoScaling.send(
    new DescribeWarmPoolCommand({ AutoScalingGroupName: group, MaxRecords: WARM_POOL_PAGE }),
  );
  const c = r.WarmPoolConfiguration;
  if (!c) return undefined;
  const max = c.MaxGroupPreparedCapacity;
  return {
    minSize: c.MinSize ?? 0,
    // -1 is how AWS spells "not set" (the group's max size).
    maxGroupPreparedCapacity: max === undefined || max === -1 ? undefined : max,
    poolState: (c.PoolState ?? 'Stopped') as WarmPool['poolState'],
    reuseOnScaleIn: c.InstanceReusePolicy?.ReuseOnScaleIn ?? false,
    status: c.Status,
    instances: r.Instances?.length ?? 0,
  };
}

/** Creates the group's warm pool or replaces its settings (PutWarmPool does both). */
export async function putWarmPool(
  aws: AwsClients,
  group: string,
  pool: Pick<WarmPool, 'minSize' | 'maxGroupPreparedCapacity' | 'poolState' | 'reuseOnScaleIn'>,
): Promise<void> {
  await aws.autoScaling.send(
    new PutWarmPoolCommand({
      AutoScalingGroupName: group,
      MinSize: pool.minSize,
      MaxGroupPreparedCapacity: pool.maxGroupPreparedCapacity ?? -1,
      PoolState: pool.poolState,
      InstanceReusePolicy: { ReuseOnScaleIn: pool.reuseOnScaleIn },
    }),
  );
}

/**
 * Deletes the group's warm pool with ForceDelete: its instances are terminated without waiting and
 * their outstanding lifecycle actions dropped. tripod's pool instances never join etcd and hold no
 * data, and without ForceDelete the call fails (ScalingActivityInProgress, ResourceInUse) while
 * instances are in the pool. The pool may still show `PendingDelete` for a while.
 */
export async function deleteWarmPool(aws: AwsClients, group: string): Promise<void> {
  await aws.autoScaling.send(new DeleteWarmPoolCommand({ AutoScalingGroupName: group, ForceDelete: true }));
}

/** Waits until a deleted pool (`PendingDelete`) is gone: AWS puts no new pool over one still being deleted. */
export async function waitWarmPoolGone(
  aws: AwsClients,
  group: string,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<void> {
  await waitFor(
    `the warm pool of ${group} to finish deleting`,
    async () => ((await describeWarmPool(aws, group)) === undefined ? true : undefined),
    { timeoutMs, intervalMs },
  );
}
