/**
 * Network load balancers, target groups and listeners, as resource kinds. What the API and the
 * service load balancers look like is decided in api-load-balancer.ts and service-load-balancer.ts.
 * One read serves all three kinds: the account's load balancers and target groups (paginated,
 * filtered by the cluster's name prefix) and one DescribeTags for the cluster's ARNs.
 */
import {
  addTags,
  createListener,
  createLoadBalancer,
  createTargetGroup,
  deleteListener,
  deleteLoadBalancer,
  deleteTargetGroup,
  describeTags,
  findListeners,
  findLoadBalancers,
  findTargetGroups,
  getAttributes,
  type Listener,
  type LoadBalancer,
  modifyListener,
  modifyTargetGroupHealthCheck,
  setAttributes,
  setSubnets,
  type TargetGroup,
  waitLoadBalancerActive,
} from '../adapters/aws/elbv2.js';
import type { Tags } from '../adapters/aws/tags.js';
import { retryDependency, subnetKind, vpcKind } from './network.js';
import {
  type Context,
  type Desired,
  desire,
  diff,
  type Found,
  isOwned,
  missingTags,
  type ResourceKind,
  tagChanges,
} from './resource.js';
import { securityGroupKind } from './security-groups.js';

/** The load balancer attribute that lets each zone's node send traffic to the targets of every zone. */
export const CROSS_ZONE = 'load_balancing.cross_zone.enabled';

export interface DesiredLoadBalancer {
  name: string;
  scheme: 'internet-facing' | 'internal';
  subnets: string[];
  securityGroups: string[];
  attributes: Record<string, string>;
  tags: Tags;
  /** Why replacing this load balancer is destructive, if it is. */
  replaceIsDestructive?: string;
}

export interface DesiredTargetGroup {
  name: string;
  protocol: string;
  port: number;
  healthCheck: { protocol: string; path?: string; port: string };
  tags: Tags;
}

export interface DesiredListener {
  loadBalancer: string;
  port: number;
  protocol: string;
  targetGroup: string;
  tags: Tags;
}

/**
 * One of the cluster's endpoints (the API's, the services'): a network load balancer behind the load
 * balancers' security group (sg/lb), cross-zone on, so a zone with no healthy target still answers.
 * `what` names it in the plan: "<what> load balancer <name> (<scheme>)".
 */
export function endpointLoadBalancer(
  key: string,
  what: string,
  lb: Pick<DesiredLoadBalancer, 'name' | 'scheme' | 'subnets' | 'tags' | 'replaceIsDestructive'>,
): Desired<DesiredLoadBalancer> {
  return desire(loadBalancerKind, key, `${what} load balancer ${lb.name} (${lb.scheme})`, {
    name: lb.name,
    scheme: lb.scheme,
    subnets: lb.subnets,
    securityGroups: ['sg/lb'],
    attributes: { [CROSS_ZONE]: 'true' },
    tags: lb.tags,
    ...(lb.replaceIsDestructive ? { replaceIsDestructive: lb.replaceIsDestructive } : {}),
  });
}

/** What an endpoint is made of: its load balancer, target groups and listeners. */
export type EndpointResource = Desired<DesiredLoadBalancer | DesiredTargetGroup | DesiredListener>;

interface ElbState {
  lbs: Array<LoadBalancer & { role: string; tags: Tags }>;
  tgs: Array<TargetGroup & { role: string; tags: Tags }>;
}

function loadElb(ctx: Context): Promise<ElbState> {
  return ctx.once('elbv2', async () => {
    const prefix = `${ctx.cluster}-`;
    const [lbs, tgs] = await Promise.all([
      findLoadBalancers(ctx.aws, prefix),
      findTargetGroups(ctx.aws, prefix),
    ]);
    const ours = {
      lbs: lbs
        .map((l) => ({ ...l, role: l.name.slice(prefix.length) }))
        .filter((l) => /^(api|svc)$/.test(l.role)),
      tgs: tgs
        .map((t) => ({ ...t, role: t.name.slice(prefix.length) }))
        .filter((t) => /^(api|svc-\d+)$/.test(t.role)),
    };
    const tags = await describeTags(ctx.aws, [...ours.lbs.map((l) => l.arn), ...ours.tgs.map((t) => t.arn)]);
    return {
      lbs: ours.lbs.map((l) => ({ ...l, tags: tags.get(l.arn) ?? {} })),
      tgs: ours.tgs.map((t) => ({ ...t, tags: tags.get(t.arn) ?? {} })),
    };
  });
}

export interface ActualLoadBalancer {
  lb: LoadBalancer;
  tags: Tags;
  attributes: Record<string, string>;
}

const lbAttrs = (l: LoadBalancer) => ({
  id: l.arn,
  arn: l.arn,
  dnsName: l.dnsName,
  zoneId: l.canonicalHostedZoneId,
});

export const loadBalancerKind: ResourceKind<DesiredLoadBalancer, ActualLoadBalancer> = {
  kind: 'load-balancer',
  group: 'load balancers',
  dependsOn: [subnetKind, securityGroupKind],
  async find(ctx) {
    const { lbs } = await loadElb(ctx);
    return Promise.all(
      lbs.map(async (l) => {
        const owned = isOwned(l.tags, ctx.cluster);
        return {
          key: `lb/${l.role}`,
          kind: 'load-balancer',
          title: `load balancer ${l.name}`,
          id: l.arn,
          owned,
          attrs: lbAttrs(l),
          actual: { lb: l, tags: l.tags, attributes: owned ? await getAttributes(ctx.aws, l.arn) : {} },
        };
      }),
    );
  },
  compare(d, f, refs) {
    const a = f.actual;
    const replace = a.lb.scheme !== d.scheme;
    return {
      changes: [
        ...diff('scheme', a.lb.scheme, d.scheme),
        ...diff(
          'subnets',
          a.lb.subnetIds,
          d.subnets.map((s) => refs.get(s)),
        ),
        ...Object.entries(d.attributes).flatMap(([k, v]) => diff(`attributes.${k}`, a.attributes[k], v)),
        ...tagChanges(d.tags, a.tags),
      ],
      ...(replace
        ? {
            replace: 'a load balancer cannot change its scheme',
            ...(d.replaceIsDestructive ? { destructive: d.replaceIsDestructive } : {}),
          }
        : {}),
    };
  },
  async create(ctx, d) {
    const lb = await createLoadBalancer(ctx.aws, {
      name: d.value.name,
      scheme: d.value.scheme,
      subnetIds: d.value.subnets.map((s) => ctx.refs.need(s)),
      securityGroupIds: d.value.securityGroups.map((s) => ctx.refs.need(s)),
      tags: d.value.tags,
    });
    await setAttributes(ctx.aws, lb.arn, d.value.attributes);
    ctx.progress(`waiting for ${d.value.name} to be active`);
    await waitLoadBalancerActive(ctx.aws, lb.arn, ctx.timeouts.loadBalancerMs);
    return {
      key: d.key,
      kind: 'load-balancer',
      title: d.title,
      id: lb.arn,
      owned: true,
      attrs: lbAttrs(lb),
      actual: { lb, tags: d.value.tags, attributes: d.value.attributes },
    };
  },
  async update(ctx, d, f) {
    const a = f.actual;
    const subnets = d.value.subnets.map((s) => ctx.refs.need(s)).sort();
    if (JSON.stringify(subnets) !== JSON.stringify(a.lb.subnetIds)) await setSubnets(ctx.aws, f.id, subnets);
    const attrs = Object.fromEntries(
      Object.entries(d.value.attributes).filter(([k, v]) => a.attributes[k] !== v),
    );
    if (Object.keys(attrs).length) await setAttributes(ctx.aws, f.id, attrs);
    const tags = missingTags(d.value.tags, a.tags);
    if (Object.keys(tags).length) await addTags(ctx.aws, f.id, tags);
    return undefined;
  },
  async delete(ctx, f) {
    await deleteLoadBalancer(ctx.aws, f.id);
  },
};

export const targetGroupKind: ResourceKind<DesiredTargetGroup, TargetGroup & { tags: Tags }> = {
  kind: 'target-group',
  group: 'load balancers',
  dependsOn: [vpcKind],
  async find(ctx) {
    const { tgs } = await loadElb(ctx);
    return tgs.map((t) => ({
      key: `tg/${t.role}`,
      kind: 'target-group',
      title: `target group ${t.name}`,
      id: t.arn,
      owned: isOwned(t.tags, ctx.cluster),
      attrs: { id: t.arn, arn: t.arn },
      actual: t,
    }));
  },
  compare(d, f, refs) {
    const a = f.actual;
    const replace = a.protocol !== d.protocol || a.port !== d.port || a.vpcId !== refs.get('vpc');
    return {
      changes: [
        ...diff('protocol', a.protocol, d.protocol),
        ...diff('port', a.port, d.port),
        ...diff('vpc', a.vpcId, refs.get('vpc')),
        ...diff('healthCheck.protocol', a.healthCheck.protocol, d.healthCheck.protocol),
        ...diff('healthCheck.path', a.healthCheck.path, d.healthCheck.path),
        ...diff('healthCheck.port', a.healthCheck.port, d.healthCheck.port),
        ...tagChanges(d.tags, a.tags),
      ],
      ...(replace ? { replace: 'a target group cannot change its protocol, port or VPC' } : {}),
    };
  },
  async create(ctx, d) {
    const arn = await createTargetGroup(ctx.aws, { ...d.value, vpcId: ctx.refs.need('vpc') });
    return {
      key: d.key,
      kind: 'target-group',
      title: d.title,
      id: arn,
      owned: true,
      attrs: { id: arn, arn },
      actual: {
        arn,
        name: d.value.name,
        protocol: d.value.protocol,
        port: d.value.port,
        vpcId: ctx.refs.need('vpc'),
        targetType: 'instance',
        healthCheck: { ...d.value.healthCheck, path: d.value.healthCheck.path },
        loadBalancerArns: [],
        tags: d.value.tags,
      },
    };
  },
  async update(ctx, d, f) {
    const a = f.actual.healthCheck;
    const w = d.value.healthCheck;
    if (a.protocol !== w.protocol || a.path !== w.path || a.port !== w.port) {
      await modifyTargetGroupHealthCheck(ctx.aws, f.id, w);
    }
    const tags = missingTags(d.value.tags, f.actual.tags);
    if (Object.keys(tags).length) await addTags(ctx.aws, f.id, tags);
    return undefined;
  },
  async delete(ctx, f) {
    await retryDependency(ctx, f.title, () => deleteTargetGroup(ctx.aws, f.id));
  },
};

export const listenerKind: ResourceKind<DesiredListener, Listener> = {
  kind: 'listener',
  group: 'load balancers',
  dependsOn: [loadBalancerKind, targetGroupKind],
  async find(ctx) {
    const { lbs } = await loadElb(ctx);
    const owned = lbs.filter((l) => isOwned(l.tags, ctx.cluster));
    const perLb = await Promise.all(
      owned.map(async (l) =>
        (await findListeners(ctx.aws, l.arn)).map(
          (x): Found<Listener> => ({
            key: `listener/${l.role}-${x.port}`,
            kind: 'listener',
            title: `listener ${x.protocol} ${x.port} of ${l.name}`,
            id: x.arn,
            owned: true,
            attrs: { id: x.arn, arn: x.arn },
            actual: x,
          }),
        ),
      ),
    );
    return perLb.flat();
  },
  compare(d, f, refs) {
    return {
      changes: [
        ...diff('protocol', f.actual.protocol, d.protocol),
        ...diff('targetGroup', f.actual.targetGroupArn, refs.get(d.targetGroup, 'arn')),
      ],
    };
  },
  async create(ctx, d) {
    const arn = await createListener(ctx.aws, {
      loadBalancerArn: ctx.refs.need(d.value.loadBalancer, 'arn'),
      port: d.value.port,
      protocol: d.value.protocol,
      targetGroupArn: ctx.refs.need(d.value.targetGroup, 'arn'),
      tags: d.value.tags,
    });
    return {
      key: d.key,
      kind: 'listener',
      title: d.title,
      id: arn,
      owned: true,
      attrs: { id: arn, arn },
      actual: { arn, port: d.value.port, protocol: d.value.protocol, targetGroupArn: undefined },
    };
  },
  async update(ctx, d, f) {
    await modifyListener(ctx.aws, f.id, {
      protocol: d.value.protocol,
      targetGroupArn: ctx.refs.need(d.value.targetGroup, 'arn'),
    });
    return undefined;
  },
  async delete(ctx, f) {
    await deleteListener(ctx.aws, f.id);
  },
};
