/**
 * Plan: what apply would do, as a plain value. Reads every kind's existing resources (in parallel,
 * batched by tag or name so the cost does not grow with the number of instances), compares them
 * with the desired resources, and lists creates, updates (field by field), replacements and deletes
 * in the order apply runs them: creates/updates/replacements in dependency order, then deletes in
 * reverse. Destructive changes are flagged; resources that exist but lack tripod's tags are
 * conflicts (tripod will not touch them).
 */

import { findBackupBucket } from '../adapters/aws/backup-bucket.js';
import type { AwsClients } from '../adapters/aws/clients.js';
import { findSecurityGroups, findSubnets, findVpcs } from '../adapters/aws/ec2.js';
import { AwsApiError } from '../adapters/aws/errors.js';
import { accountConcurrency, type LambdaFunction } from '../adapters/aws/lambda.js';
import { callerAccountId } from '../adapters/aws/sts.js';
import { clusterCidrs, overlaps, parseCidr } from '../cluster-spec/cidr.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { CLUSTER_TAG } from '../contract/protocol.js';
import { autoScalingGroupKind } from './auto-scaling-group.js';
import { backupBucketKind, backupBucketName } from './backup-bucket.js';
import {
  type DesiredCluster,
  type DesiredOptions,
  desiredCluster,
  type ExistingNetwork,
  nodeSubnetKey,
  publicSubnetKey,
} from './desired.js';
import { dnsKind } from './dns.js';
import { eventRuleKind } from './event-rules.js';
import { launchTemplateKind } from './launch-templates.js';
import { type ConcurrencyCheck, LimitError, limitProblems } from './limits.js';
import { listenerKind, loadBalancerKind, targetGroupKind } from './load-balancer.js';
import { internetGatewayKind, natGatewayKind, routeTableKind, subnetKind, vpcKind } from './network.js';
import { leftoverParameters, parameterKind } from './parameters.js';
import {
  type DesiredFunction,
  externalReconcilerProblem,
  reconcilerFunctionKind,
} from './reconciler-function.js';
import {
  type Context,
  DEFAULT_TIMEOUTS,
  type Desired,
  type FieldChange,
  type Found,
  orderKinds,
  Refs,
  type ResourceKind,
  type Timeouts,
} from './resource.js';
import { securityGroupKind, securityGroupRulesKind } from './security-groups.js';
import { warmPoolKind } from './warm-pool.js';

/**
 * Every kind, in the order apply creates them (deletes run in reverse): derived from what each kind
 * depends on (`dependsOn`), so a new kind only has to be listed here, anywhere. Ties keep this
 * listing's order.
 */
export const KINDS: ReadonlyArray<ResourceKind> = orderKinds<ResourceKind>([
  vpcKind,
  internetGatewayKind,
  subnetKind,
  natGatewayKind,
  routeTableKind,
  securityGroupKind,
  securityGroupRulesKind,
  launchTemplateKind,
  loadBalancerKind,
  targetGroupKind,
  listenerKind,
  dnsKind,
  backupBucketKind,
  parameterKind,
  reconcilerFunctionKind,
  eventRuleKind,
  autoScalingGroupKind,
  warmPoolKind,
]);

export type ChangeAction = 'create' | 'update' | 'replace' | 'delete';

export interface PlannedChange {
  action: ChangeAction;
  key: string;
  kind: string;
  /** Progress/report heading: network, security groups, instances, ... */
  group: string;
  title: string;
  /** The existing resource's id (updates, replacements, deletes). */
  id?: string;
  changes: FieldChange[];
  /** Why a replacement is needed. */
  reason?: string;
  /** Why this change is refused without allowDestructive. */
  destructive?: string;
}

export interface Plan {
  cluster: string;
  region: string;
  mode: 'apply' | 'destroy';
  changes: PlannedChange[];
  summary: Record<ChangeAction, number>;
  hasChanges: boolean;
  /** Human reasons for every destructive change (empty: nothing destructive). */
  destructive: string[];
  /** Resources in the way that tripod does not own: apply refuses until they are dealt with. */
  conflicts: string[];
  /** Topology warnings (no HA, zone loss not survivable). */
  warnings: string[];
}

export interface PlanOptions extends DesiredOptions {
  /** Plan the removal of everything (tripod destroy). */
  destroy?: boolean;
  /** The cluster's name before this change (e.g. the spec on the base branch): a different name is a rename. */
  previousName?: string;
  timeouts?: Partial<Timeouts>;
}

/** A plan and what apply needs to carry it out. */
export interface PlanState {
  plan: Plan;
  desired: DesiredCluster | undefined;
  found: Map<string, Found>;
  context: Context;
}

const kindOf = (name: string) => {
  const k = KINDS.find((x) => x.kind === name);
  if (!k) throw new Error(`internal: no resource kind ${name}`);
  return k;
};

export function makeContext(
  aws: AwsClients,
  spec: ClusterSpec,
  desired: Desired[],
  timeouts: Partial<Timeouts> = {},
): Context {
  const cache = new Map<string, Promise<unknown>>();
  return {
    aws,
    cluster: spec.name,
    spec,
    refs: new Refs(),
    desired,
    timeouts: { ...DEFAULT_TIMEOUTS, ...timeouts },
    once<T>(key: string, load: () => Promise<T>) {
      if (!cache.has(key)) cache.set(key, load());
      return cache.get(key) as Promise<T>;
    },
    progress() {},
  };
}

export async function planCluster(
  aws: AwsClients,
  spec: ClusterSpec,
  options: PlanOptions = {},
): Promise<PlanState> {
  const accountId =
    options.destroy || options.backupBucket
      ? options.accountId
      : (options.accountId ?? (await callerAccountId(aws)));
  const desired = options.destroy
    ? undefined
    : desiredCluster(spec, { ...options, ...(accountId ? { accountId } : {}) });
  const wanted = desired?.resources ?? [];
  const ctx = makeContext(aws, spec, wanted, options.timeouts);
  const conflicts: string[] = [];

  const existing = desired?.existingNetwork;
  const [foundPerKind, network] = await Promise.all([
    Promise.all(KINDS.map((k) => k.find(ctx))),
    existing && !options.destroy
      ? checkExistingNetwork(aws, spec, existing)
      : Promise.resolve({ problems: [], vpcCidr: undefined }),
  ]);
  conflicts.push(...network.problems);
  if (existing) {
    // Its CIDR: the default apiEndpoint.allowedCidrs of an internal API (security-groups.ts).
    ctx.refs.set('vpc', { id: existing.vpcId, ...(network.vpcCidr ? { cidr: network.vpcCidr } : {}) });
    for (const [zone, id] of Object.entries(existing.subnets))
      ctx.refs.set(nodeSubnetKey(spec, zone), { id });
    for (const [zone, id] of Object.entries(existing.publicSubnets))
      ctx.refs.set(publicSubnetKey(spec, zone), { id });
  }

  const found = new Map<string, Found>();
  for (const f of foundPerKind.flat()) {
    if (found.has(f.key) && found.get(f.key)!.owned) {
      conflicts.push(`${f.title} (${f.id}) duplicates ${found.get(f.key)!.id}: remove one of them`);
      continue;
    }
    found.set(f.key, f);
    if (f.owned) ctx.refs.set(f.key, f.attrs);
  }

  // A new cluster (no configuration yet) must not adopt what an earlier one of its name left.
  if (desired && !found.has('param/config')) {
    const left = await leftoverParameters(aws, spec.name);
    if (left.length)
      conflicts.push(
        `${left.length} parameter(s) of an earlier cluster named ${spec.name} are still under /tripod/${spec.name}/ (${left.slice(0, 3).join(', ')}${left.length > 3 ? ', ...' : ''}): a new cluster would adopt its CAs and keys. Run tripod destroy for that cluster (it deletes them), or delete them yourself`,
      );
  }

  // AWS limits the emulator does not enforce: refused here, before anything is created.
  const limitNotes: string[] = [];
  if (desired) {
    const problems = limitProblems(spec, wanted, await concurrencyCheck(aws, wanted, found, limitNotes));
    const external = spec.reconciler.functionArn
      ? await externalReconcilerProblem(aws, spec.reconciler.functionArn)
      : undefined;
    if (external) problems.push(external);
    if (problems.length) throw new LimitError(problems);
  }

  const forward: PlannedChange[] = [];
  for (const kind of KINDS) {
    for (const d of wanted.filter((w) => w.kind === kind.kind)) {
      const f = found.get(d.key);
      const base = { key: d.key, kind: d.kind, group: kind.group, title: d.title };
      if (!f) {
        forward.push({ ...base, action: 'create', changes: [] });
        ctx.refs.forget(d.key);
        continue;
      }
      if (!f.owned) {
        conflicts.push(
          `${f.title} (${f.id}) already exists without the tags ${CLUSTER_TAG}=${spec.name} and tripod:managed-by=tripod: tripod will not touch it; delete or rename it`,
        );
        continue;
      }
      const c = kind.compare(d.value, f, ctx.refs);
      if (c.replace) {
        forward.push({
          ...base,
          action: 'replace',
          id: f.id,
          changes: c.changes,
          reason: c.replace,
          ...(c.destructive ? { destructive: c.destructive } : {}),
        });
        ctx.refs.forget(d.key);
      } else if (c.changes.length) {
        forward.push({
          ...base,
          action: 'update',
          id: f.id,
          changes: c.changes,
          ...(c.destructive ? { destructive: c.destructive } : {}),
        });
      }
    }
  }

  const wantedKeys = new Set(wanted.map((w) => w.key));
  const deletes: PlannedChange[] = [];
  for (const kind of [...KINDS].reverse()) {
    for (const f of found.values()) {
      if (f.kind !== kind.kind || !f.owned || wantedKeys.has(f.key)) continue;
      deletes.push({
        action: 'delete',
        key: f.key,
        kind: f.kind,
        group: kind.group,
        title: f.title,
        id: f.id,
        changes: [],
        ...(!options.destroy && f.key === 'asg/masters'
          ? { destructive: 'deletes the master group: every master and the etcd data go' }
          : {}),
      });
    }
  }

  const changes = [...forward, ...deletes];
  const warnings = [...(desired?.topology.warnings ?? []), ...limitNotes];
  if (!options.destroy && options.previousName && options.previousName !== spec.name && changes[0]) {
    changes[0].destructive = `renames the cluster from "${options.previousName}" to "${spec.name}": tripod would build a second cluster and leave "${options.previousName}" running (keep the name, or destroy "${options.previousName}" first)`;
  }
  if (!options.destroy && [...found.values()].every((f) => !f.owned)) {
    const neighbour = await sameNetworkAs(aws, spec);
    if (neighbour) warnings.push(neighbour);
  }
  if (options.destroy) {
    const kept = await keptBackupBucket(aws, spec, accountId);
    if (kept) warnings.push(kept);
  }
  const summary = { create: 0, update: 0, replace: 0, delete: 0 };
  for (const c of changes) summary[c.action]++;
  const plan: Plan = {
    cluster: spec.name,
    region: spec.region,
    mode: options.destroy ? 'destroy' : 'apply',
    changes,
    summary,
    hasChanges: changes.length > 0,
    destructive: changes.filter((c) => c.destructive).map((c) => `${c.title}: ${c.destructive}`),
    conflicts,
    warnings,
  };
  return { plan, desired, found, context: ctx };
}

/**
 * The account's Lambda concurrency, when this plan reserves executions the function does not hold
 * yet (lambda:GetAccountSettings): PutFunctionConcurrency must leave 100 unreserved. An endpoint
 * without the call (an emulator) gets a note instead.
 */
async function concurrencyCheck(
  aws: AwsClients,
  wanted: ReadonlyArray<Desired>,
  found: ReadonlyMap<string, Found>,
  notes: string[],
): Promise<ConcurrencyCheck | undefined> {
  const fn = wanted.find((d) => d.kind === 'function') as Desired<DesiredFunction> | undefined;
  if (!fn) return undefined;
  const have = (found.get(fn.key)?.actual as LambdaFunction | undefined)?.config.reservedConcurrency ?? 0;
  const reserving = fn.value.reservedConcurrency - have;
  if (reserving <= 0) return undefined;
  try {
    const settings = await accountConcurrency(aws);
    return settings && { ...settings, reserving };
  } catch (e) {
    if (!(e instanceof AwsApiError && e.kind === 'unimplemented')) throw e;
    notes.push(
      `the endpoint does not answer lambda:GetAccountSettings: the account's unreserved Lambda concurrency was not checked`,
    );
    return undefined;
  }
}

/**
 * Destroy keeps the cluster's backup bucket (it holds the only copy of the etcd data once the cluster
 * is gone): a note naming it when it exists and is the cluster's. Costs sts:GetCallerIdentity and the
 * bucket's reads.
 */
async function keptBackupBucket(
  aws: AwsClients,
  spec: ClusterSpec,
  accountId: string | undefined,
): Promise<string | undefined> {
  const name = backupBucketName(spec.name, accountId ?? (await callerAccountId(aws)), spec.region);
  const bucket = await findBackupBucket(aws.s3, name);
  if (!bucket || bucket.tags[CLUSTER_TAG] !== spec.name) return undefined;
  return `keeping backup bucket ${name}: it holds the cluster's etcd snapshots. Delete it yourself once you no longer need them.`;
}

/** The spec's own VPC and subnets must exist, and each subnet must be in its zone and that VPC. */
async function checkExistingNetwork(
  aws: AwsClients,
  spec: ClusterSpec,
  net: ExistingNetwork,
): Promise<{ problems: string[]; vpcCidr: string | undefined }> {
  // A filter (not SubnetIds) so that missing subnets are simply absent instead of failing the call.
  const ids = [...new Set([...Object.values(net.subnets), ...Object.values(net.publicSubnets)])];
  const [subnets, vpcs] = await Promise.all([
    findSubnets(aws, { filters: [{ Name: 'subnet-id', Values: ids }] }),
    findVpcs(aws, [{ Name: 'vpc-id', Values: [net.vpcId] }]),
  ]);
  const problems: string[] = [];
  for (const field of ['subnets', 'publicSubnets'] as const) {
    for (const [zone, id] of Object.entries(net[field])) {
      const s = subnets.find((x) => x.id === id);
      if (!s) problems.push(`network.${field}.${zone}: subnet ${id} does not exist in ${spec.region}`);
      else if (s.zone !== zone)
        problems.push(`network.${field}.${zone}: subnet ${id} is in ${s.zone}, not ${zone}`);
      else if (s.vpcId !== net.vpcId)
        problems.push(`network.${field}.${zone}: subnet ${id} is in ${s.vpcId}, not ${net.vpcId}`);
    }
  }
  // The spec could not check the pod and service ranges against a VPC it does not describe.
  const vpc = vpcs[0];
  const vpcRange = vpc ? parseCidr(vpc.cidr) : undefined;
  if (!vpc) problems.push(`network.vpcId: VPC ${net.vpcId} does not exist in ${spec.region}`);
  const ranges = clusterCidrs(spec.network);
  for (const field of ['pods', 'services'] as const) {
    const r = parseCidr(ranges[field]);
    if (vpcRange && r && overlaps(vpcRange, r))
      problems.push(
        `network.${field}: ${ranges[field]}${spec.network[field] ? '' : ' (the default)'} overlaps VPC ${net.vpcId} (${vpc!.cidr}): set network.${field} to a range outside it`,
      );
  }
  return { problems, vpcCidr: vpc?.cidr };
}

/**
 * A new cluster whose network another tripod cluster already uses (its VPC, or a tripod VPC with the
 * same CIDR in the region) may be a renamed cluster. AWS alone cannot tell a rename from a second
 * cluster, so this is a warning; a known previous name (`previousName`, e.g. the spec on the base
 * branch) makes it a destructive change. Costs one call, and only when nothing of the cluster exists.
 */
async function sameNetworkAs(aws: AwsClients, spec: ClusterSpec): Promise<string | undefined> {
  const others = (tags: Record<string, string>) => {
    const c = tags[CLUSTER_TAG];
    return c && c !== spec.name ? c : undefined;
  };
  if (spec.network.vpcId) {
    const groups = await findSecurityGroups(aws, [
      { Name: 'vpc-id', Values: [spec.network.vpcId] },
      { Name: 'tag-key', Values: [CLUSTER_TAG] },
    ]);
    const other = groups.map((g) => others(g.tags)).find(Boolean);
    return other
      ? `VPC ${spec.network.vpcId} already holds tripod cluster "${other}": if ${spec.name} is "${other}" renamed, applying builds a second cluster and leaves "${other}" running`
      : undefined;
  }
  const vpcs = await findVpcs(aws, [{ Name: 'tag-key', Values: [CLUSTER_TAG] }]);
  const same = vpcs.find((v) => v.cidr === spec.network.cidr && others(v.tags));
  return same
    ? `tripod cluster "${others(same.tags)}" already uses CIDR ${spec.network.cidr} in ${spec.region}: if ${spec.name} is "${others(same.tags)}" renamed, applying builds a second cluster and leaves "${others(same.tags)}" running`
    : undefined;
}

export { kindOf };
