/**
 * Security groups for masters, workers, the load balancers and the reconciler, and their ingress
 * rules. Groups and rules are separate resources because rules reference each other's groups
 * (masters <-> workers): every group exists before any rule is written.
 */
import {
  authorizeIngress,
  createSecurityGroup,
  deleteSecurityGroup,
  findSecurityGroups,
  type IngressRule,
  revokeIngress,
  type SecurityGroup,
  tagFilter,
  tagResources,
} from '../adapters/aws/ec2.js';
import type { Tags } from '../adapters/aws/tags.js';
import { CLUSTER_TAG, ROLE_TAG } from '../contract/protocol.js';
import { retryDependency, vpcKind } from './network.js';
import {
  type Context,
  diff,
  type Found,
  isOwned,
  missingTags,
  type Refs,
  type ResourceKind,
  tagChanges,
} from './resource.js';

export type SecurityGroupRole = 'masters' | 'workers' | 'lb' | 'reconciler';

/** The kubelet's API (the API server reaches it for logs, exec and metrics). */
export const KUBELET_PORT = 10250;
/** kube-proxy's `/healthz` (HTTP, every node): the health check of UDP and TCP_UDP service ports. */
export const KUBE_PROXY_HEALTH_PORT = 10256;
/** The pod overlay: flannel's VXLAN (UDP) between all nodes. */
export const OVERLAY_PORT = 8472;

export interface DesiredSecurityGroup {
  role: SecurityGroupRole;
  name: string;
  description: string;
  tags: Tags;
}

export interface DesiredRule {
  protocol: 'tcp' | 'udp';
  from: number;
  to: number;
  /**
   * Another of the cluster's groups (by key), a CIDR, or the range of another resource (`cidrOf`: its
   * `cidr` attribute: the VPC's CIDR when the spec names an existing VPC, a NAT gateway's public /32).
   */
  source: { group: string } | { cidr: string } | { cidrOf: string };
  description: string;
}

export interface DesiredRules {
  /** Key of the group the rules belong to. */
  group: string;
  rules: DesiredRule[];
}

const loadGroups = (ctx: Context) =>
  ctx.once('ec2:security-groups', () => findSecurityGroups(ctx.aws, [tagFilter(CLUSTER_TAG, ctx.cluster)]));

const roleOf = (g: SecurityGroup) => g.tags[ROLE_TAG] ?? g.name.slice(g.name.lastIndexOf('-') + 1);

export const securityGroupKind: ResourceKind<DesiredSecurityGroup, SecurityGroup> = {
  kind: 'security-group',
  group: 'security groups',
  dependsOn: [vpcKind],
  async find(ctx) {
    const groups = await loadGroups(ctx);
    return groups.map((g) => ({
      key: `sg/${roleOf(g)}`,
      kind: 'security-group',
      title: `security group ${g.name}`,
      id: g.id,
      owned: isOwned(g.tags, ctx.cluster),
      attrs: { id: g.id },
      actual: g,
    }));
  },
  compare(d, f, refs) {
    const vpc = refs.get('vpc');
    const moved = f.actual.vpcId !== vpc || f.actual.name !== d.name;
    return {
      changes: [
        ...diff('name', f.actual.name, d.name),
        ...diff('vpc', f.actual.vpcId, vpc),
        ...tagChanges(d.tags, f.actual.tags),
      ],
      ...(moved ? { replace: 'a security group cannot change its name or VPC' } : {}),
    };
  },
  async create(ctx, d) {
    const g = await createSecurityGroup(ctx.aws, {
      name: d.value.name,
      vpcId: ctx.refs.need('vpc'),
      description: d.value.description,
      tags: { ...d.value.tags, [ROLE_TAG]: d.value.role },
    });
    return {
      key: d.key,
      kind: 'security-group',
      title: d.title,
      id: g.id,
      owned: true,
      attrs: { id: g.id },
      actual: g,
    };
  },
  async update(ctx, d, f) {
    await tagResources(ctx.aws, [f.id], missingTags(d.value.tags, f.actual.tags));
    return undefined;
  },
  async delete(ctx, f) {
    await retryDependency(ctx, `security group ${f.actual.name}`, () => deleteSecurityGroup(ctx.aws, f.id));
  },
};

const ruleText = (r: IngressRule) =>
  `${r.protocol} ${r.fromPort === r.toPort ? r.fromPort : `${r.fromPort}-${r.toPort}`} from ${
    'groupId' in r.source ? r.source.groupId : r.source.cidr
  }`;

/** The rules with their sources resolved; a rule stated twice (a NAT's address also in allowedCidrs) once: AWS refuses duplicates. */
function resolveRules(rules: DesiredRule[], refs: Refs): IngressRule[] {
  const resolved = rules.map((r) => ({
    protocol: r.protocol,
    fromPort: r.from,
    toPort: r.to,
    source:
      'group' in r.source
        ? { groupId: refs.get(r.source.group) }
        : { cidr: 'cidr' in r.source ? r.source.cidr : refs.get(r.source.cidrOf, 'cidr') },
    description: r.description,
  }));
  return resolved.filter((r, i) => resolved.findIndex((x) => ruleText(x) === ruleText(r)) === i);
}

/** Rules to add and to remove so the group has exactly the desired ingress. */
function ruleDelta(want: IngressRule[], have: IngressRule[]) {
  const haveText = new Set(have.map(ruleText));
  const wantText = new Set(want.map(ruleText));
  return {
    add: want.filter((r) => !haveText.has(ruleText(r))),
    remove: have.filter((r) => !wantText.has(ruleText(r))),
  };
}

/** The rules of a group: "found" whenever the group itself exists. */
export const securityGroupRulesKind: ResourceKind<DesiredRules, SecurityGroup> = {
  kind: 'security-group-rules',
  group: 'security groups',
  dependsOn: [securityGroupKind, vpcKind],
  async find(ctx) {
    const groups = await loadGroups(ctx);
    return groups.map((g) => ({
      key: `sg-rules/${roleOf(g)}`,
      kind: 'security-group-rules',
      title: `ingress rules of ${g.name}`,
      id: g.id,
      owned: isOwned(g.tags, ctx.cluster),
      attrs: { id: g.id },
      actual: g,
    }));
  },
  compare(d, f, refs) {
    const { add, remove } = ruleDelta(resolveRules(d.rules, refs), f.actual.ingress);
    return {
      changes: [
        ...add.map((r) => ({ field: 'ingress', before: undefined, after: ruleText(r) })),
        ...remove.map((r) => ({ field: 'ingress', before: ruleText(r), after: undefined })),
      ],
      ...(f.id !== refs.get(d.group) ? { replace: 'its security group is replaced' } : {}),
    };
  },
  async create(ctx, d) {
    const id = ctx.refs.need(d.value.group);
    const rules = resolveRules(d.value.rules, ctx.refs);
    await authorizeIngress(ctx.aws, id, rules);
    return {
      key: d.key,
      kind: 'security-group-rules',
      title: d.title,
      id,
      owned: true,
      attrs: { id },
      actual: { id, name: '', vpcId: '', description: '', ingress: rules, tags: {} },
    };
  },
  async update(ctx, d, f) {
    const { add, remove } = ruleDelta(resolveRules(d.value.rules, ctx.refs), f.actual.ingress);
    await revokeIngress(ctx.aws, f.id, remove);
    await authorizeIngress(ctx.aws, f.id, add);
    return undefined;
  },
  /** Revokes every ingress rule, so groups that referenced each other can be deleted. */
  async delete(ctx, f: Found<SecurityGroup>) {
    await revokeIngress(ctx.aws, f.id, f.actual.ingress);
  },
};
