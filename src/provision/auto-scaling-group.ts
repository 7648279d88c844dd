/**
 * An Auto Scaling group (the masters' or the workers'): sizes, subnets, launch template, attached
 * target groups, lifecycle hooks and tags. What makes a change to the master group destructive is
 * decided in master-group.ts; this file only reads and writes.
 */
import {
  type AutoScalingGroup,
  attachTargetGroups,
  createGroup,
  deleteGroup,
  deleteHook,
  describeGroups,
  describeHooks,
  detachTargetGroups,
  type LifecycleHookSpec,
  putGroupTags,
  putHook,
  updateGroup,
} from '../adapters/aws/autoscaling.js';
import type { Tags } from '../adapters/aws/tags.js';
import { resourceNames } from '../contract/names.js';
import { dnsKind } from './dns.js';
import { eventRuleKind } from './event-rules.js';
import { launchTemplateKind } from './launch-templates.js';
import { listenerKind, targetGroupKind } from './load-balancer.js';
import { routeTableKind, subnetKind } from './network.js';
import { parameterKind } from './parameters.js';
import { reconcilerFunctionKind } from './reconciler-function.js';
import {
  type Comparison,
  type Context,
  diff,
  type FieldChange,
  type Found,
  isOwned,
  missingTags,
  type Refs,
  type ResourceKind,
  tagChanges,
} from './resource.js';
import { securityGroupRulesKind } from './security-groups.js';

export interface DesiredGroup {
  role: 'masters' | 'workers';
  name: string;
  min: number;
  max: number;
  /** Undefined: not owned by tripod (e.g. workers without `desired`: an autoscaler may move it); `min` on create. */
  desired: number | undefined;
  zones: string[];
  /** Keys of the subnets (one per zone). */
  subnets: string[];
  launchTemplate: string;
  /** Keys of the target groups the group's instances are registered in. */
  targetGroups: string[];
  /** Undefined: hooks are not managed on this group. */
  hooks: LifecycleHookSpec[] | undefined;
  tags: Tags;
  /** Masters only: decides which changes are destructive (see master-group.ts). */
  guard?: (desired: DesiredGroup, actual: ActualGroup) => string | undefined;
}

export interface ActualGroup {
  group: AutoScalingGroup;
  hooks: LifecycleHookSpec[] | undefined;
}

const hookText = (h: LifecycleHookSpec | undefined) =>
  h
    ? `${h.transition.replace('autoscaling:EC2_INSTANCE_', '').toLowerCase()} timeout=${h.heartbeatTimeout}s default=${h.defaultResult}`
    : undefined;

function compareGroup(d: DesiredGroup, f: Found<ActualGroup>, refs: Refs): Comparison {
  const g = f.actual.group;
  const changes: FieldChange[] = [
    ...diff('min', g.min, d.min),
    ...diff('max', g.max, d.max),
    ...(d.desired !== undefined ? diff('desired', g.desired, d.desired) : []),
    ...diff(
      'subnets',
      g.subnetIds,
      d.subnets.map((s) => refs.get(s)),
    ),
    ...diff('launchTemplate', g.launchTemplate?.id, refs.get(d.launchTemplate)),
    ...diff('launchTemplateVersion', g.launchTemplate?.version, '$Default'),
    ...diff(
      'targetGroups',
      g.targetGroupArns,
      d.targetGroups.map((t) => refs.get(t, 'arn')),
    ),
    ...tagChanges(d.tags, g.tags),
  ];
  if (d.hooks) {
    const have = new Map((f.actual.hooks ?? []).map((h) => [h.name, h]));
    for (const h of d.hooks)
      changes.push(...diff(`hooks.${h.name}`, hookText(have.get(h.name)), hookText(h)));
    const wanted = new Set(d.hooks.map((h) => h.name));
    for (const h of f.actual.hooks ?? []) {
      if (!wanted.has(h.name))
        changes.push({ field: `hooks.${h.name}`, before: hookText(h), after: undefined });
    }
  }
  const destructive = changes.length ? d.guard?.(d, f.actual) : undefined;
  return { changes, ...(destructive ? { destructive } : {}) };
}

export const autoScalingGroupKind: ResourceKind<DesiredGroup, ActualGroup> = {
  kind: 'auto-scaling-group',
  group: 'instances',
  // Groups come last: the configuration, the reconciler and its event rules exist before the first
  // master launches, so its lifecycle events reach a reconciler that can let it join (on destroy the
  // groups go first, while the reconciler still completes their hooks). A node also needs, from its
  // first boot, its subnet's routes (NAT), the security group rules (etcd, kubelet) and the API
  // endpoint's listener and DNS name (kubeadm init and join go through it).
  dependsOn: [
    subnetKind,
    routeTableKind,
    securityGroupRulesKind,
    launchTemplateKind,
    targetGroupKind,
    listenerKind,
    dnsKind,
    parameterKind,
    reconcilerFunctionKind,
    eventRuleKind,
  ],
  async find(ctx: Context) {
    const names = resourceNames(ctx.cluster);
    // Shared with the warm pool's find (warm-pool.ts): one DescribeAutoScalingGroups for both.
    const groups = await ctx.once('auto-scaling-groups', () =>
      describeGroups(ctx.aws, [names.masterGroup, names.workerGroup]),
    );
    return Promise.all(
      groups.map(async (g) => {
        const role = g.name === names.masterGroup ? 'masters' : 'workers';
        const key = `asg/${role}`;
        const wantHooks = ctx.desired.some((d) => d.key === key && (d.value as DesiredGroup).hooks);
        const owned = isOwned(g.tags, ctx.cluster);
        return {
          key,
          kind: 'auto-scaling-group',
          title: `${role} group ${g.name}`,
          id: g.name,
          owned,
          attrs: { id: g.name, arn: g.arn },
          actual: { group: g, hooks: wantHooks && owned ? await describeHooks(ctx.aws, g.name) : undefined },
        };
      }),
    );
  },
  compare: compareGroup,
  async create(ctx, d) {
    const v = d.value;
    await createGroup(ctx.aws, {
      name: v.name,
      min: v.min,
      max: v.max,
      desired: v.desired ?? v.min,
      subnetIds: v.subnets.map((s) => ctx.refs.need(s)),
      launchTemplateId: ctx.refs.need(v.launchTemplate),
      targetGroupArns: v.targetGroups.map((t) => ctx.refs.need(t, 'arn')),
      tags: v.tags,
      hooks: v.hooks ?? [],
    });
    // Also put explicitly: some endpoints (moto) drop the hooks given at creation.
    for (const h of v.hooks ?? []) await putHook(ctx.aws, v.name, h);
    const [g] = await describeGroups(ctx.aws, [v.name]);
    return {
      key: d.key,
      kind: 'auto-scaling-group',
      title: d.title,
      id: v.name,
      owned: true,
      attrs: { id: v.name, arn: g?.arn ?? '' },
      actual: { group: g!, hooks: v.hooks },
    };
  },
  async update(ctx, d, f) {
    const v = d.value;
    const g = f.actual.group;
    const subnetIds = v.subnets.map((s) => ctx.refs.need(s)).sort();
    const lt = ctx.refs.need(v.launchTemplate);
    // Unowned desired capacity still has to sit within the new bounds.
    const desired = v.desired ?? Math.min(Math.max(g.desired, v.min), v.max);
    const fields = {
      ...(g.min !== v.min ? { min: v.min } : {}),
      ...(g.max !== v.max ? { max: v.max } : {}),
      ...(g.desired !== desired ? { desired } : {}),
      ...(JSON.stringify(g.subnetIds) !== JSON.stringify(subnetIds) ? { subnetIds } : {}),
      ...(g.launchTemplate?.id !== lt || g.launchTemplate?.version !== '$Default'
        ? { launchTemplateId: lt }
        : {}),
    };
    if (Object.keys(fields).length) await updateGroup(ctx.aws, v.name, fields);
    const arns = v.targetGroups.map((t) => ctx.refs.need(t, 'arn'));
    await attachTargetGroups(
      ctx.aws,
      v.name,
      arns.filter((a) => !g.targetGroupArns.includes(a)),
    );
    await detachTargetGroups(
      ctx.aws,
      v.name,
      g.targetGroupArns.filter((a) => !arns.includes(a)),
    );
    if (v.hooks) {
      const have = new Map((f.actual.hooks ?? []).map((h) => [h.name, h]));
      for (const h of v.hooks)
        if (hookText(have.get(h.name)) !== hookText(h)) await putHook(ctx.aws, v.name, h);
      for (const h of f.actual.hooks ?? []) {
        if (!v.hooks.some((w) => w.name === h.name)) await deleteHook(ctx.aws, v.name, h.name);
      }
    }
    await putGroupTags(ctx.aws, v.name, missingTags(v.tags, g.tags));
    return undefined;
  },
  async delete(ctx, f) {
    ctx.progress(`deleting ${f.title} and its ${f.actual.group.instances.length} instance(s)`);
    await deleteGroup(ctx.aws, f.id, ctx.timeouts.groupDeleteMs);
  },
};
