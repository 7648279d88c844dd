/**
 * The VPC as the provisioner declares it: which connection the security groups let through. Pure,
 * built once from a spec's desired resources (`desiredCluster`, the same ones `plan` computes), and
 * answering "may A open a connection to B on protocol/port?" the way AWS would:
 *
 * - A connection is allowed when ingress rules of the destination's groups match its protocol and
 *   port and its source: a group the sender is in, or CIDRs that together hold every address the
 *   sender may have (its subnets; unknown addresses, as in a VPC we did not make, match only /0).
 *   A range the model knows only by name (`@vpc`: the CIDR of a VPC the spec names; `@nat/<zone>`:
 *   a NAT gateway's public address) is held only by a rule naming that same resource (`cidrOf`).
 * - To an internet-facing load balancer, an instance in a private subnet connects from its zone's
 *   NAT gateway (its default route): the load balancer sees that public address, not the instance's
 *   group or private address.
 * - Security groups are stateful: the reply of an allowed connection is allowed; only who opens
 *   the connection matters. Egress is AWS's default (all) because the provisioner declares none.
 * - A network load balancer WITH security groups: clients must pass the load balancer's inbound
 *   rules on the listener port; the targets see the load balancer's group, so a target rule that
 *   references it admits forwarded traffic (even with client IP preservation) and health checks.
 *   Health checks are subject to the load balancer's outbound rules only, not its inbound rules.
 * - WITHOUT security groups: the listener takes any client; instance targets see the client's own
 *   address (client IP preservation, always on for instance targets and UDP) and the health checks
 *   come from the load balancer's private addresses in its subnets.
 * - A health check succeeds only when something listens on the checked TCP port (`listening`).
 *
 * Nothing here sends traffic: the simulator asks and acts on the answer (see cloud.ts).
 */

import { ipv4ToNumber } from '../cluster-spec/cidr.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { API_SERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT } from '../contract/protocol.js';
import type { DesiredGroup } from '../provision/auto-scaling-group.js';
import type { DesiredCluster } from '../provision/desired.js';
import type { DesiredLaunchTemplate } from '../provision/launch-templates.js';
import type { DesiredListener, DesiredLoadBalancer, DesiredTargetGroup } from '../provision/load-balancer.js';
import type { DesiredFunction } from '../provision/reconciler-function.js';
import {
  type DesiredRule,
  type DesiredRules,
  KUBE_PROXY_HEALTH_PORT,
  KUBELET_PORT,
  OVERLAY_PORT,
} from '../provision/security-groups.js';

export type Protocol = 'tcp' | 'udp';
/** Where instances run (by their group's role). */
export type Host = 'masters' | 'workers' | 'reconciler';
/**
 * A party: a host role, a load balancer (`lb/api`), an internet client, an address in the VPC, or a
 * client at a given address outside the VPC (`addr/203.0.113.9`).
 */
export type Party = Host | 'internet' | 'vpc' | `lb/${string}` | `addr/${string}`;

interface PartyInfo {
  /** Security group keys (`sg/masters`) the party's network interfaces are in. */
  groups: string[];
  /** CIDRs the party's addresses are in; undefined when unknown (matched only by 0.0.0.0/0). */
  ranges: string[] | undefined;
}

interface TargetGroupInfo {
  key: string;
  value: DesiredTargetGroup;
  /** Host roles registered in it (the Auto Scaling groups that name it). */
  targets: Host[];
  /** The load balancer whose listener forwards to it. */
  loadBalancer: string | undefined;
}

/** A public address standing for "a client on the internet" (TEST-NET-2; nothing is sent to it). */
const INTERNET_CLIENT = '198.51.100.7/32';

/** Does `outer` hold every address of `inner`? (A named range `@...` is held only by itself and /0.) */
function cidrHolds(outer: string, inner: string): boolean {
  if (outer === '0.0.0.0/0' || outer === inner) return true;
  if (outer.startsWith('@') || inner.startsWith('@')) return false;
  const [oip, obits] = outer.split('/');
  const [iip, ibits] = inner.split('/');
  const ob = Number(obits);
  if (Number(ibits) < ob) return false;
  const size = 2 ** (32 - ob);
  return Math.floor(ipv4ToNumber(oip!) / size) === Math.floor(ipv4ToNumber(iip!) / size);
}

const protocolsOf = (p: string): Protocol[] =>
  p === 'UDP' ? ['udp'] : p === 'TCP_UDP' ? ['tcp', 'udp'] : ['tcp'];

export const blockText = (from: string, to: string, protocol: Protocol, port: number) =>
  `blocked by security group: ${from} -> ${to} ${protocol}/${port}`;

export class NetworkModel {
  private readonly rules = new Map<string, DesiredRule[]>();
  private readonly parties = new Map<string, PartyInfo>();
  /** What each host's traffic to the internet leaves from: its zones' NAT gateways (undefined: unknown). */
  private readonly egress = new Map<Host, string[] | undefined>();
  /** `cidrOf` sources resolved: the CIDR of a resource the model knows, else its name (`@vpc`). */
  private readonly cidrOf = new Map<string, string>();
  private readonly lbs = new Map<string, DesiredLoadBalancer>();
  private readonly listeners: DesiredListener[] = [];
  private readonly tgs = new Map<string, TargetGroupInfo>();
  private readonly listens = new Map<Host, Set<string>>();
  private readonly memo = new Map<string, string | undefined>();
  private dataPlaneMemo: string[] | undefined;

  private constructor(readonly spec: ClusterSpec) {}

  /** The model of `spec`'s desired resources (give `desired` to model a changed set of rules). */
  static of(spec: ClusterSpec, desired: DesiredCluster): NetworkModel {
    const m = new NetworkModel(spec);
    const byKey = new Map(desired.resources.map((r) => [r.key, r]));
    const value = <T>(key: string) => byKey.get(key)?.value as T | undefined;
    const subnetRanges = (keys: string[]) => {
      const cidrs = keys.map((k) => value<{ cidr?: string }>(k)?.cidr);
      return cidrs.every((c): c is string => typeof c === 'string') ? cidrs : undefined;
    };
    // A private subnet's traffic to the internet leaves through its zone's NAT gateway (network.ts).
    const natRanges = (keys: string[]) => {
      const nats = keys.map((k) => value<{ zone?: string }>(k)?.zone).map((z) => `nat/${z}`);
      return nats.every((n) => byKey.get(n)?.kind === 'nat-gateway') ? nats.map((n) => `@${n}`) : undefined;
    };
    const vpcCidr = value<{ cidr: string }>('vpc')?.cidr;
    for (const r of desired.resources) if (r.kind === 'nat-gateway') m.cidrOf.set(r.key, `@${r.key}`);
    m.cidrOf.set('vpc', vpcCidr ?? '@vpc');
    for (const r of desired.resources) {
      if (r.kind === 'security-group-rules') {
        const v = r.value as DesiredRules;
        m.rules.set(v.group, [...(m.rules.get(v.group) ?? []), ...v.rules]);
      } else if (r.kind === 'load-balancer') {
        const v = r.value as DesiredLoadBalancer;
        m.lbs.set(r.key, v);
        m.parties.set(r.key, { groups: v.securityGroups, ranges: subnetRanges(v.subnets) });
      } else if (r.kind === 'listener') {
        m.listeners.push(r.value as DesiredListener);
      } else if (r.kind === 'target-group') {
        m.tgs.set(r.key, {
          key: r.key,
          value: r.value as DesiredTargetGroup,
          targets: [],
          loadBalancer: undefined,
        });
      }
    }
    for (const l of m.listeners) {
      const tg = m.tgs.get(l.targetGroup);
      if (tg) tg.loadBalancer = l.loadBalancer;
    }
    for (const r of desired.resources) {
      if (r.kind !== 'auto-scaling-group') continue;
      const g = r.value as DesiredGroup;
      const host = g.role as Host;
      const lt = value<DesiredLaunchTemplate>(g.launchTemplate);
      m.parties.set(host, { groups: lt?.securityGroups ?? [], ranges: subnetRanges(g.subnets) });
      m.egress.set(host, natRanges(g.subnets));
      for (const t of g.targetGroups) m.tgs.get(t)?.targets.push(host);
    }
    const fn = value<DesiredFunction>('fn/reconciler');
    m.parties.set('reconciler', {
      groups: fn?.securityGroups ?? [],
      ranges: fn ? subnetRanges(fn.subnets) : undefined,
    });
    m.parties.set('internet', { groups: [], ranges: [INTERNET_CLIENT] });
    // An address in the VPC: in its CIDR (named only, `@vpc`, when the spec names an existing VPC).
    m.parties.set('vpc', { groups: [], ranges: [vpcCidr ?? '@vpc'] });
    // What the nodes serve: kubelet, kube-proxy's health endpoint, the overlay, the NodePorts
    // (kube-proxy, on every node), and on masters the API server and etcd.
    const nodePorts = spec.serviceEndpoint.ports.flatMap((p) =>
      protocolsOf(p.protocol).map((x) => `${x}/${p.nodePort}`),
    );
    const common = [
      `tcp/${KUBELET_PORT}`,
      `tcp/${KUBE_PROXY_HEALTH_PORT}`,
      `udp/${OVERLAY_PORT}`,
      ...nodePorts,
    ];
    m.listens.set('workers', new Set(common));
    m.listens.set(
      'masters',
      new Set([...common, `tcp/${API_SERVER_PORT}`, `tcp/${ETCD_CLIENT_PORT}`, `tcp/${ETCD_PEER_PORT}`]),
    );
    return m;
  }

  private party(p: string): PartyInfo {
    if (p.startsWith('addr/')) {
      const a = p.slice('addr/'.length);
      return { groups: [], ranges: [a.includes('/') ? a : `${a}/32`] };
    }
    const info = this.parties.get(p);
    if (!info) throw new Error(`network model: no party ${p} in the desired resources`);
    return info;
  }

  private admitted(sources: PartyInfo[], to: PartyInfo, protocol: Protocol, port: number): boolean {
    const matching = to.groups.flatMap((g) =>
      (this.rules.get(g) ?? []).filter((r) => r.protocol === protocol && port >= r.from && port <= r.to),
    );
    const cidrs = matching.flatMap((r) =>
      'group' in r.source
        ? []
        : ['cidr' in r.source ? r.source.cidr : (this.cidrOf.get(r.source.cidrOf) ?? `@${r.source.cidrOf}`)],
    );
    return sources.some(
      (s) =>
        matching.some((r) => 'group' in r.source && s.groups.includes(r.source.group)) ||
        cidrs.includes('0.0.0.0/0') ||
        // Every address the party may have is held by some rule (each packet is judged by its source).
        (s.ranges !== undefined &&
          s.ranges.length > 0 &&
          s.ranges.every((range) => cidrs.some((c) => cidrHolds(c, range)))),
    );
  }

  /**
   * Who `client` is to a load balancer: an instance reaching an internet-facing one leaves through
   * its NAT gateway (no group, the NAT's public address).
   */
  private clientOf(client: Party, lb: DesiredLoadBalancer | undefined): PartyInfo {
    if (lb?.scheme === 'internet-facing' && this.egress.has(client as Host))
      return { groups: [], ranges: this.egress.get(client as Host) };
    return this.party(client);
  }

  /** Why `from` cannot open a connection to `to` (its security groups' ingress), or undefined. */
  blocked(from: Party, to: Party, protocol: Protocol, port: number): string | undefined {
    const key = `${from}>${to}>${protocol}/${port}`;
    if (this.memo.has(key)) return this.memo.get(key);
    const ok = this.admitted([this.party(from)], this.party(to), protocol, port);
    const why = ok ? undefined : blockText(from, to, protocol, port);
    this.memo.set(key, why);
    return why;
  }

  allows(from: Party, to: Party, protocol: Protocol, port: number): boolean {
    return this.blocked(from, to, protocol, port) === undefined;
  }

  /**
   * A client's connection to a load balancer's listener and on to every kind of target behind it.
   * Undefined when it gets through; otherwise the first refusal.
   */
  throughListener(client: Party, lb: string, protocol: Protocol, port: number): string | undefined {
    const l = this.listeners.find(
      (x) => x.loadBalancer === lb && x.port === port && protocolsOf(x.protocol).includes(protocol),
    );
    if (!l) return `no listener ${protocol}/${port} on ${lb}`;
    const lbv = this.lbs.get(lb);
    const hasGroups = (lbv?.securityGroups.length ?? 0) > 0;
    const from = this.clientOf(client, lbv);
    if (hasGroups && !this.admitted([from], this.party(lb), protocol, port))
      return blockText(client, lb, protocol, port);
    const tg = this.tgs.get(l.targetGroup);
    if (!tg) return `listener ${protocol}/${port} of ${lb} forwards to no target group`;
    // The targets see the load balancer's group (when it has one) or the client's own address.
    const sources = hasGroups ? [this.party(lb), from] : [from];
    for (const host of tg.targets) {
      if (!this.admitted(sources, this.party(host), protocol, tg.value.port))
        return blockText(hasGroups ? lb : client, host, protocol, tg.value.port);
      if (!this.listens.get(host)?.has(`${protocol}/${tg.value.port}`))
        return `nothing listens on ${host} ${protocol}/${tg.value.port} (${tg.key})`;
    }
    return undefined;
  }

  /** Why a target group's health checks fail on some of its targets, or undefined when they pass. */
  healthCheck(tgKey: string): string | undefined {
    const key = `hc>${tgKey}`;
    if (this.memo.has(key)) return this.memo.get(key);
    const why = this.healthCheckOnce(tgKey);
    this.memo.set(key, why);
    return why;
  }

  private healthCheckOnce(tgKey: string): string | undefined {
    const tg = this.tgs.get(tgKey);
    if (!tg) return `no target group ${tgKey}`;
    const hc = tg.value.healthCheck;
    const port = hc.port === 'traffic-port' ? tg.value.port : Number(hc.port);
    // TCP, HTTP and HTTPS health checks are all TCP connections.
    const protocol: Protocol = 'tcp';
    const lb = tg.loadBalancer;
    const lbv = lb ? this.lbs.get(lb) : undefined;
    const hasGroups = (lbv?.securityGroups.length ?? 0) > 0;
    // Without groups, health checks come from the load balancer's private addresses (its subnets).
    const source: PartyInfo = lb
      ? hasGroups
        ? this.party(lb)
        : { groups: [], ranges: this.party(lb).ranges }
      : { groups: [], ranges: undefined };
    for (const host of tg.targets) {
      if (!this.admitted([source], this.party(host), protocol, port))
        return `${blockText(lb ?? 'load balancer', host, protocol, port)} (health check of ${tgKey})`;
      if (!this.listens.get(host)?.has(`${protocol}/${port}`))
        return `nothing listens on ${host} ${protocol}/${port} (health check of ${tgKey}): always unhealthy`;
    }
    return undefined;
  }

  /** Target groups of the service load balancer (and any other than the API's). */
  targetGroups(): string[] {
    return [...this.tgs.keys()];
  }

  /**
   * The connections of a running cluster the simulator has no process for (workers, pods, the
   * service load balancer, kubectl): each blocked one, evaluated once. The API server's own health
   * checks, etcd and the reconciler are checked where the simulator makes those connections.
   */
  dataPlaneBlocked(): string[] {
    this.dataPlaneMemo ??= this.dataPlane();
    return this.dataPlaneMemo;
  }

  private dataPlane(): string[] {
    const out: Array<string | undefined> = [];
    const nodes: Host[] = ['masters', 'workers'];
    const api = this.lbs.get('lb/api');
    // kubectl: from the first of apiEndpoint.allowedCidrs when given, else from the internet when the
    // API endpoint faces it, else from inside the VPC.
    const allowed = this.spec.apiEndpoint.allowedCidrs?.[0];
    const kubectl: Party = allowed
      ? `addr/${allowed}`
      : api?.scheme === 'internet-facing'
        ? 'internet'
        : 'vpc';
    if (api) out.push(this.throughListener(kubectl, 'lb/api', 'tcp', API_SERVER_PORT));
    // Workers join and run their kubelet through the API load balancer; pods on any node reach
    // the API servers through the kubernetes Service (DNAT to a master's own address).
    out.push(this.throughListener('workers', 'lb/api', 'tcp', API_SERVER_PORT));
    for (const n of nodes) out.push(this.blocked(n, 'masters', 'tcp', API_SERVER_PORT));
    // The API server reaches every kubelet (logs, exec, metrics); the overlay joins every node pair.
    for (const n of nodes) out.push(this.blocked('masters', n, 'tcp', KUBELET_PORT));
    for (const a of nodes) for (const b of nodes) out.push(this.blocked(a, b, 'udp', OVERLAY_PORT));
    // The services: clients through each listener to the NodePorts, and the health checks.
    const svc = this.lbs.get('lb/svc');
    const client: Party = svc?.scheme === 'internet-facing' ? 'internet' : 'vpc';
    for (const p of this.spec.serviceEndpoint.ports) {
      for (const proto of protocolsOf(p.protocol))
        out.push(this.throughListener(client, 'lb/svc', proto, p.port));
      out.push(this.healthCheck(`tg/svc-${p.port}`));
    }
    return out.filter((x): x is string => x !== undefined);
  }
}
