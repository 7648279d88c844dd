/**
 * The network tripod creates when the spec gives a CIDR: the VPC, a public and a private subnet per
 * zone, an internet gateway, one NAT gateway per zone (a single NAT would make one zone's outage cut
 * every zone off the internet) and the route tables. With `vpcId` + `subnets` none of this exists:
 * the spec's ids are used as they are.
 */
import {
  allocateElasticIp,
  associateRouteTable,
  attachInternetGateway,
  createInternetGateway,
  createNatGateway,
  createRouteTable,
  createSubnet,
  createVpc,
  deleteInternetGateway,
  deleteNatGateway,
  deleteRouteTable,
  deleteSubnet,
  deleteVpc,
  disassociateRouteTable,
  findElasticIps,
  findInternetGateways,
  findNatGateways,
  findRouteTables,
  findSubnets,
  findVpcs,
  type InternetGateway,
  type NatGateway,
  putRoute,
  type RouteTable,
  releaseElasticIp,
  type Subnet,
  setSubnetPublicIp,
  tagFilter,
  tagResources,
  type Vpc,
  waitNatGateway,
} from '../adapters/aws/ec2.js';
import type { Tags } from '../adapters/aws/tags.js';
import { ipv4ToNumber, numberToIpv4 } from '../cluster-spec/cidr.js';
import { RESOURCE_TAG } from '../contract/names.js';
import { CLUSTER_TAG } from '../contract/protocol.js';
import {
  type Context,
  type Desired,
  diff,
  type Found,
  isOwned,
  missingTags,
  type Refs,
  type ResourceKind,
  tagChanges,
} from './resource.js';

const clusterFilter = (ctx: Context) => [tagFilter(CLUSTER_TAG, ctx.cluster)];
const keyOf = (tags: Tags) => tags[RESOURCE_TAG] ?? '';
/** Filters again on the cluster tag: some endpoints (moto's DescribeNatGateways) ignore tag filters. */
const ofCluster = <T extends { tags: Tags }>(ctx: Context, items: T[]) =>
  items.filter((i) => i.tags[CLUSTER_TAG] === ctx.cluster);

/**
 * The cluster's resources of one network kind as found: keyed by their resource tag (`key` for one
 * without it), owned when tripod's tags say so; references: `attrs`, by default the id.
 */
function foundOf<T extends { id: string; tags: Tags }>(
  ctx: Context,
  kind: string,
  items: T[],
  describe: (item: T) => { key: string; title: string; attrs?: Record<string, string> },
): Array<Found<T>> {
  return ofCluster(ctx, items).map((item) => {
    const { key, title, attrs } = describe(item);
    return {
      key: keyOf(item.tags) || key,
      kind,
      title,
      id: item.id,
      owned: isOwned(item.tags, ctx.cluster),
      attrs: attrs ?? { id: item.id },
      actual: item,
    };
  });
}

/** A network resource apply has just created (its references: `attrs`, by default the id). */
const created = <T extends { id: string }>(
  kind: string,
  d: Desired<unknown>,
  item: T,
  attrs: Record<string, string> = { id: item.id },
): Found<T> => ({ key: d.key, kind, title: d.title, id: item.id, owned: true, attrs, actual: item });

// ---------- CIDR arithmetic ----------

/**
 * Splits `cidr` into `count` equal subnets (the smallest power of two that fits, at most /28) and
 * returns them in order. Subnet i of a zone list stays the same when zones are appended.
 */
export function splitCidr(cidr: string, count: number): string[] {
  const [ip, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const extra = Math.max(1, Math.ceil(Math.log2(Math.max(count, 2))));
  const prefix = bits + extra;
  if (prefix > 28)
    throw new Error(`${cidr} is too small for ${count} subnets (they would be smaller than /28)`);
  const base = ipv4ToNumber(ip!) - (ipv4ToNumber(ip!) % 2 ** (32 - bits));
  const size = 2 ** (32 - prefix);
  return Array.from({ length: count }, (_, i) => `${numberToIpv4(base + i * size)}/${prefix}`);
}

/**
 * Subnet CIDRs per zone: the VPC is cut into 16 slots (room for 8 zones); zone i gets slot i for its
 * private subnet and slot 8 + i for its public one, so adding a zone never moves existing subnets.
 */
export function zoneSubnetCidrs(cidr: string, zones: readonly string[]) {
  const slots = splitCidr(cidr, 16);
  if (zones.length > 8) throw new Error('at most 8 zones are supported with network.cidr');
  return new Map(zones.map((z, i) => [z, { private: slots[i]!, public: slots[8 + i]! }]));
}

// ---------- VPC ----------

export interface DesiredVpc {
  cidr: string;
  tags: Tags;
}

export const vpcKind: ResourceKind<DesiredVpc, Vpc> = {
  kind: 'vpc',
  group: 'network',
  dependsOn: [],
  async find(ctx) {
    return foundOf(ctx, 'vpc', await findVpcs(ctx.aws, clusterFilter(ctx)), (v) => ({
      key: 'vpc',
      title: `VPC ${v.cidr}`,
      attrs: { id: v.id, cidr: v.cidr },
    }));
  },
  compare(d, f) {
    const changes = [...diff('cidr', f.actual.cidr, d.cidr), ...tagChanges(d.tags, f.actual.tags)];
    return {
      changes,
      ...(f.actual.cidr !== d.cidr
        ? {
            replace: 'a VPC CIDR cannot change',
            destructive: 'replacing the VPC deletes every instance and load balancer in it',
          }
        : {}),
    };
  },
  async create(ctx, d) {
    return created('vpc', d, await createVpc(ctx.aws, d.value.cidr, d.value.tags));
  },
  async update(ctx, d, f) {
    await tagResources(ctx.aws, [f.id], missingTags(d.value.tags, f.actual.tags));
    return undefined;
  },
  async delete(ctx, f) {
    await retryDependency(ctx, `VPC ${f.id}`, () => deleteVpc(ctx.aws, f.id));
  },
};

/** AWS refuses to delete something another resource (an ENI, an instance) still uses. */
export const isDependencyError = (e: unknown) =>
  /DependencyViolation|ResourceInUse|InvalidGroup.InUse/.test((e as { code?: string }).code ?? '');

/**
 * Deleting network pieces fails while ENIs (load balancers, Lambda, instances) linger: retry for a
 * while, never past the caller's deadline (`ctx.deadline`, e.g. the Action's timeout).
 */
export async function retryDependency(ctx: Context, what: string, run: () => Promise<void>): Promise<void> {
  const deadline = Math.min(Date.now() + ctx.timeouts.dependencyMs, ctx.deadline ?? Number.POSITIVE_INFINITY);
  let wait = 2000;
  for (;;) {
    try {
      return await run();
    } catch (e) {
      if (!isDependencyError(e) || Date.now() + wait > deadline) throw e;
      ctx.progress(
        `${what} is still in use, retrying in ${Math.round(wait / 1000)} s (giving up in ${Math.round((deadline - Date.now()) / 1000)} s)`,
      );
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 1.5, 15_000);
    }
  }
}

// ---------- internet gateway ----------

export interface DesiredInternetGateway {
  tags: Tags;
}

export const internetGatewayKind: ResourceKind<DesiredInternetGateway, InternetGateway> = {
  kind: 'internet-gateway',
  group: 'network',
  dependsOn: [vpcKind],
  async find(ctx) {
    return foundOf(ctx, 'internet-gateway', await findInternetGateways(ctx.aws, clusterFilter(ctx)), () => ({
      key: 'igw',
      title: 'internet gateway',
    }));
  },
  compare(d, f, refs) {
    return {
      changes: [...diff('vpc', f.actual.vpcIds[0], refs.get('vpc')), ...tagChanges(d.tags, f.actual.tags)],
    };
  },
  async create(ctx, d) {
    return created(
      'internet-gateway',
      d,
      await createInternetGateway(ctx.aws, ctx.refs.need('vpc'), d.value.tags),
    );
  },
  async update(ctx, d, f) {
    const vpc = ctx.refs.need('vpc');
    if (!f.actual.vpcIds.includes(vpc)) await attachInternetGateway(ctx.aws, f.id, vpc);
    await tagResources(ctx.aws, [f.id], missingTags(d.value.tags, f.actual.tags));
    return undefined;
  },
  async delete(ctx, f) {
    await retryDependency(ctx, `internet gateway ${f.id}`, () => deleteInternetGateway(ctx.aws, f.actual));
  },
};

// ---------- subnets ----------

export interface DesiredSubnet {
  zone: string;
  cidr: string;
  public: boolean;
  tags: Tags;
}

export const subnetKind: ResourceKind<DesiredSubnet, Subnet> = {
  kind: 'subnet',
  group: 'network',
  dependsOn: [vpcKind],
  async find(ctx) {
    return foundOf(ctx, 'subnet', await findSubnets(ctx.aws, { filters: clusterFilter(ctx) }), (s) => ({
      key: `subnet/${s.id}`,
      title: `subnet ${s.zone} ${s.cidr}`,
      attrs: { id: s.id, zone: s.zone },
    }));
  },
  compare(d, f, refs) {
    const moved = f.actual.cidr !== d.cidr || f.actual.zone !== d.zone || f.actual.vpcId !== refs.get('vpc');
    return {
      changes: [
        ...diff('cidr', f.actual.cidr, d.cidr),
        ...diff('zone', f.actual.zone, d.zone),
        ...diff('vpc', f.actual.vpcId, refs.get('vpc')),
        ...diff('mapPublicIpOnLaunch', f.actual.mapPublicIp, d.public),
        ...tagChanges(d.tags, f.actual.tags),
      ],
      ...(moved ? { replace: 'a subnet cannot change its CIDR, zone or VPC' } : {}),
    };
  },
  async create(ctx, d) {
    const s = await createSubnet(ctx.aws, {
      vpcId: ctx.refs.need('vpc'),
      zone: d.value.zone,
      cidr: d.value.cidr,
      mapPublicIp: d.value.public,
      tags: d.value.tags,
    });
    return created('subnet', d, s);
  },
  async update(ctx, d, f) {
    if (f.actual.mapPublicIp !== d.value.public) await setSubnetPublicIp(ctx.aws, f.id, d.value.public);
    await tagResources(ctx.aws, [f.id], missingTags(d.value.tags, f.actual.tags));
    return undefined;
  },
  async delete(ctx, f) {
    await retryDependency(ctx, `subnet ${f.id}`, () => deleteSubnet(ctx.aws, f.id));
  },
};

// ---------- NAT gateways (with their Elastic IP) ----------

export interface DesiredNatGateway {
  zone: string;
  /** Key of the public subnet it lives in. */
  subnet: string;
  tags: Tags;
}

/** A NAT gateway's references: its id, and `cidr`, the /32 of the address its traffic leaves from (security group rules admit it). */
const natAttrs = (id: string, publicIp: string | undefined): Record<string, string> => ({
  id,
  ...(publicIp ? { cidr: `${publicIp}/32` } : {}),
});

export const natGatewayKind: ResourceKind<DesiredNatGateway, NatGateway> = {
  kind: 'nat-gateway',
  group: 'network',
  // A public NAT gateway needs the VPC's internet gateway attached.
  dependsOn: [subnetKind, internetGatewayKind],
  async find(ctx) {
    return foundOf(ctx, 'nat-gateway', await findNatGateways(ctx.aws, clusterFilter(ctx)), (n) => ({
      key: `nat/${n.id}`,
      title: 'NAT gateway',
      attrs: natAttrs(n.id, n.publicIps[0]),
    }));
  },
  compare(d, f, refs) {
    const subnet = refs.get(d.subnet);
    return {
      changes: [
        ...diff('subnet', f.actual.subnetId, subnet),
        ...diff('state', f.actual.state === 'failed' ? 'failed' : 'ok', 'ok'),
      ],
      ...(f.actual.subnetId !== subnet || f.actual.state === 'failed'
        ? { replace: 'a NAT gateway cannot move (or it failed)' }
        : {}),
    };
  },
  async create(ctx, d) {
    // An Elastic IP left by an interrupted apply is reused rather than leaked.
    const free = (
      await findElasticIps(ctx.aws, [tagFilter(RESOURCE_TAG, `eip/${d.value.zone}`), ...clusterFilter(ctx)])
    )
      .filter((e) => !e.associationId)
      .at(0);
    const eip =
      free ?? (await allocateElasticIp(ctx.aws, { ...d.value.tags, [RESOURCE_TAG]: `eip/${d.value.zone}` }));
    const n = await createNatGateway(ctx.aws, {
      subnetId: ctx.refs.need(d.value.subnet),
      allocationId: eip.allocationId,
      tags: d.value.tags,
    });
    ctx.progress(`waiting for NAT gateway ${n.id} in ${d.value.zone} to be available`);
    await waitNatGateway(ctx.aws, n.id, 'available', ctx.timeouts.natGatewayMs);
    return created('nat-gateway', d, n, natAttrs(n.id, n.publicIps[0] ?? eip.publicIp));
  },
  async update() {
    return undefined;
  },
  async delete(ctx, f) {
    await deleteNatGateway(ctx.aws, f.id);
    ctx.progress(`waiting for NAT gateway ${f.id} to be deleted`);
    await waitNatGateway(ctx.aws, f.id, 'deleted', ctx.timeouts.natGatewayMs);
    for (const a of f.actual.allocationIds) await releaseElasticIp(ctx.aws, a);
  },
};

/** Elastic IPs of the cluster nothing uses any more (an interrupted apply or destroy): destroy releases them. */
export async function releaseFreeElasticIps(ctx: Context): Promise<number> {
  const free = (await findElasticIps(ctx.aws, clusterFilter(ctx))).filter(
    (e) => !e.associationId && isOwned(e.tags, ctx.cluster),
  );
  for (const e of free) await releaseElasticIp(ctx.aws, e.allocationId);
  return free.length;
}

// ---------- route tables ----------

export interface DesiredRouteTable {
  /** Default route target: the internet gateway key or a NAT gateway key. */
  defaultRoute: { gateway: string } | { natGateway: string };
  /** Keys of the subnets associated with the table. */
  subnets: string[];
  tags: Tags;
}

function wantedRoute(d: DesiredRouteTable, refs: Refs) {
  return 'gateway' in d.defaultRoute
    ? { destination: '0.0.0.0/0', gatewayId: refs.get(d.defaultRoute.gateway) }
    : { destination: '0.0.0.0/0', natGatewayId: refs.get(d.defaultRoute.natGateway) };
}

const routeText = (r: { gatewayId?: string; natGatewayId?: string } | undefined) =>
  r ? (r.gatewayId ?? r.natGatewayId ?? 'none') : 'none';

export const routeTableKind: ResourceKind<DesiredRouteTable, RouteTable> = {
  kind: 'route-table',
  group: 'network',
  dependsOn: [vpcKind, subnetKind, internetGatewayKind, natGatewayKind],
  async find(ctx) {
    return foundOf(ctx, 'route-table', await findRouteTables(ctx.aws, clusterFilter(ctx)), (t) => ({
      key: `rtb/${t.id}`,
      title: 'route table',
    }));
  },
  compare(d, f, refs) {
    const want = wantedRoute(d, refs);
    const have = f.actual.routes.find((r) => r.destination === '0.0.0.0/0');
    return {
      changes: [
        ...diff('vpc', f.actual.vpcId, refs.get('vpc')),
        ...diff('routes[0.0.0.0/0]', routeText(have), routeText(want)),
        ...diff(
          'subnets',
          f.actual.associations.map((a) => a.subnetId),
          d.subnets.map((s) => refs.get(s)),
        ),
        ...tagChanges(d.tags, f.actual.tags),
      ],
      ...(f.actual.vpcId !== refs.get('vpc') ? { replace: 'a route table cannot move to another VPC' } : {}),
    };
  },
  async create(ctx, d) {
    const id = await createRouteTable(ctx.aws, ctx.refs.need('vpc'), d.value.tags);
    const table: RouteTable = {
      id,
      vpcId: ctx.refs.need('vpc'),
      routes: [],
      associations: [],
      tags: d.value.tags,
    };
    const found = created('route-table', d, table);
    await this.update(ctx, d, found);
    return found;
  },
  async update(ctx, d, f) {
    const want = wantedRoute(d.value, ctx.refs);
    const have = f.actual.routes.find((r) => r.destination === '0.0.0.0/0');
    if (routeText(have) !== routeText(want)) await putRoute(ctx.aws, f.id, want, have !== undefined);
    const wanted = new Set(d.value.subnets.map((s) => ctx.refs.need(s)));
    for (const a of f.actual.associations)
      if (!wanted.has(a.subnetId)) await disassociateRouteTable(ctx.aws, a.id);
    const present = new Set(f.actual.associations.map((a) => a.subnetId));
    for (const s of wanted) if (!present.has(s)) await associateRouteTable(ctx.aws, f.id, s);
    await tagResources(ctx.aws, [f.id], missingTags(d.value.tags, f.actual.tags));
    return undefined;
  },
  async delete(ctx, f) {
    await deleteRouteTable(ctx.aws, f.actual);
  },
};
