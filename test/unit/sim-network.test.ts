/**
 * The simulator's network is the provisioner's security groups: every connection the system makes
 * is checked against the rules `desiredCluster` declares, so a rule the system needs cannot be
 * dropped without a simulation failing (and saying which connection was blocked).
 */
import { describe, expect, it } from 'vitest';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { type DesiredCluster, desiredCluster } from '../../src/provision/desired.js';
import type { DesiredLoadBalancer, DesiredTargetGroup } from '../../src/provision/load-balancer.js';
import type { DesiredRule, DesiredRules } from '../../src/provision/security-groups.js';
import { NetworkModel } from '../../src/sim/network.js';
import { simulate } from '../../src/sim/run.js';
import { simSpec } from '../../src/sim/sim-spec.js';

const base = {
  cluster: 'net',
  region: 'eu-west-1',
  zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
  masters: 3,
};

/** A spec with a TCP, a UDP and a TCP_UDP service port. */
function mixedSpec(schedulable = false): ClusterSpec {
  const s = structuredClone(simSpec(base));
  s.serviceEndpoint.ports = [
    { port: 443, nodePort: 30443, protocol: 'TCP' },
    { port: 53, nodePort: 30053, protocol: 'UDP' },
    { port: 5000, nodePort: 30500, protocol: 'TCP_UDP' },
  ];
  s.masters.schedulable = schedulable;
  return s;
}

const rulesOf = (d: DesiredCluster) =>
  d.resources.filter((r) => r.kind === 'security-group-rules').map((r) => r.value as DesiredRules);

const ruleName = (group: string, r: DesiredRule) =>
  `${group} ${r.protocol}/${r.from === r.to ? r.from : `${r.from}-${r.to}`} from ${
    'group' in r.source ? r.source.group : 'cidr' in r.source ? r.source.cidr : r.source.cidrOf
  } (${r.description})`;

/** The desired resources without the i-th rule of `group` (a deep copy). */
function withoutRule(d: DesiredCluster, group: string, i: number): DesiredCluster {
  return {
    ...d,
    resources: d.resources.map((r) => {
      if (r.kind !== 'security-group-rules' || (r.value as DesiredRules).group !== group) return r;
      const v = r.value as DesiredRules;
      return { ...r, value: { ...v, rules: v.rules.filter((_, j) => j !== i) } };
    }),
  };
}

/** The desired resources with one resource's value changed. */
function changedValue<T>(d: DesiredCluster, key: string, change: (v: T) => T): DesiredCluster {
  return {
    ...d,
    resources: d.resources.map((r) => (r.key === key ? { ...r, value: change(r.value as T) } : r)),
  };
}

/** A short run without faults: the cluster must form within 30 simulated minutes (boot timeout 15). */
const run = (spec: ClusterSpec, network: NetworkModel, seed = 7) =>
  simulate({ seed, spec, network, faults: [], convergeWithinMs: 30 * 60_000 });

describe('network model (AWS security-group semantics)', () => {
  const spec = mixedSpec();
  const net = NetworkModel.of(spec, desiredCluster(spec));

  it('lets through every connection of the system with the provisioner rules', () => {
    expect(net.dataPlaneBlocked()).toEqual([]);
    expect(net.blocked('reconciler', 'masters', 'tcp', 2379)).toBeUndefined();
    expect(net.blocked('masters', 'masters', 'tcp', 2380)).toBeUndefined();
    expect(net.healthCheck('tg/api')).toBeUndefined();
  });

  it('finding 1: the reconciler reaches each master API server (/readyz on 6443)', () => {
    expect(net.blocked('reconciler', 'masters', 'tcp', 6443)).toBeUndefined();
  });

  it('finding 15: UDP and TCP_UDP ports are health-checked on kube-proxy /healthz, which the workers admit', () => {
    for (const p of [53, 5000]) expect(net.healthCheck(`tg/svc-${p}`)).toBeUndefined();
    const d = desiredCluster(spec);
    const tg = d.resources.find((r) => r.key === 'tg/svc-53')?.value as DesiredTargetGroup;
    expect(tg.healthCheck).toEqual({ protocol: 'HTTP', path: '/healthz', port: '10256' });
    // The old check (TCP on the UDP NodePort): nothing listens there, and the group admits only UDP.
    const old = NetworkModel.of(
      spec,
      changedValue<DesiredTargetGroup>(d, 'tg/svc-53', (v) => ({
        ...v,
        healthCheck: { protocol: 'TCP', port: 'traffic-port' },
      })),
    );
    expect(old.healthCheck('tg/svc-53')).toBe(
      'blocked by security group: lb/svc -> workers tcp/30053 (health check of tg/svc-53)',
    );
  });

  it('refuses what AWS refuses: unknown sources, other ports, the wrong protocol', () => {
    expect(net.blocked('internet', 'masters', 'tcp', 6443)).toMatch(/^blocked by security group/);
    expect(net.blocked('workers', 'masters', 'tcp', 2379)).toMatch(/^blocked by security group/);
    expect(net.blocked('reconciler', 'masters', 'tcp', 2380)).toMatch(/^blocked by security group/);
    expect(net.blocked('masters', 'workers', 'tcp', 8472)).toMatch(/^blocked by security group/);
    expect(net.blocked('internet', 'workers', 'udp', 30053)).toMatch(/^blocked by security group/);
    expect(net.throughListener('internet', 'lb/svc', 'tcp', 53)).toBe('no listener tcp/53 on lb/svc');
    expect(net.throughListener('internet', 'lb/svc', 'udp', 53)).toBeUndefined();
  });

  it('a load balancer without security groups: targets see the client address, health checks come from its subnets', () => {
    const d = changedValue<DesiredLoadBalancer>(desiredCluster(spec), 'lb/svc', (v) => ({
      ...v,
      securityGroups: [],
    }));
    const bare = NetworkModel.of(spec, d);
    // The workers admit the load balancer's group, which no longer carries this traffic.
    expect(bare.throughListener('internet', 'lb/svc', 'tcp', 443)).toBe(
      'blocked by security group: internet -> workers tcp/30443',
    );
    expect(bare.healthCheck('tg/svc-443')).toMatch(
      /^blocked by security group: lb\/svc -> workers tcp\/30443/,
    );
  });

  it('a CIDR rule admits a party only when it holds every subnet the party may be in', () => {
    const d = desiredCluster(spec);
    const withCidr = (cidr: string) =>
      NetworkModel.of(
        spec,
        changedValue<DesiredRules>(d, 'sg-rules/masters', (v) => ({
          ...v,
          rules: [
            ...v.rules.filter((r) => !('group' in r.source && r.source.group === 'sg/reconciler')),
            { protocol: 'tcp', from: 2379, to: 2379, source: { cidr }, description: 'etcd from a CIDR' },
          ],
        })),
      );
    expect(withCidr('10.0.0.0/16').blocked('reconciler', 'masters', 'tcp', 2379)).toBeUndefined();
    // One zone's private subnet only: a reconciler in another zone would be refused.
    expect(withCidr('10.0.0.0/20').blocked('reconciler', 'masters', 'tcp', 2379)).toMatch(/^blocked/);
  });
});

describe('the simulator checks its connections against the security groups', () => {
  it('forms the cluster with the provisioner rules (UDP and TCP_UDP service ports included)', async () => {
    for (const spec of [mixedSpec(false), mixedSpec(true)]) {
      const r = await run(spec, NetworkModel.of(spec, desiredCluster(spec)));
      expect(r.violations).toEqual([]);
      expect(r.timeline).not.toContain('blocked by security group');
    }
  });

  it('finding 1: without the reconciler -> masters 6443 rule no master is registered', async () => {
    const spec = mixedSpec();
    const d = desiredCluster(spec);
    const i = rulesOf(d)
      .find((g) => g.group === 'sg/masters')!
      .rules.findIndex((r) => r.from === 6443 && 'group' in r.source && r.source.group === 'sg/reconciler');
    expect(i).toBeGreaterThanOrEqual(0);
    const r = await run(spec, NetworkModel.of(spec, withoutRule(d, 'sg/masters', i)));
    expect(r.ok).toBe(false);
    expect(r.timeline).toContain('blocked by security group: reconciler -> masters tcp/6443');
    expect(r.timeline).not.toMatch(/elb +register/);
  });

  // Every ingress rule the provisioner declares is needed: drop it and the cluster does not form
  // or does not serve, and the timeline names the blocked connection.
  for (const schedulable of [false, true]) {
    const spec = mixedSpec(schedulable);
    const d = desiredCluster(spec);
    const cases = rulesOf(d).flatMap((g) =>
      g.rules.map((r, i) => ({ group: g.group, i, name: ruleName(g.group, r) })),
    );
    it.each(cases)(`schedulable=${schedulable}: dropping $name fails a run`, async ({ group, i }) => {
      const r = await run(spec, NetworkModel.of(spec, withoutRule(d, group, i)));
      expect(r.ok).toBe(false);
      expect(r.timeline).toMatch(/blocked by security group: |nothing listens/);
    });
  }
});
