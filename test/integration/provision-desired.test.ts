/** spec -> desired resources (pure), subnet arithmetic, the master group's destructive guard, plan rendering. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeEnvironment } from '../../src/bootstrap/render.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import type { ActualGroup, DesiredGroup } from '../../src/provision/auto-scaling-group.js';
import { desiredCluster } from '../../src/provision/desired.js';
import type { DesiredLaunchTemplate } from '../../src/provision/launch-templates.js';
import { masterGroupGuard } from '../../src/provision/master-group.js';
import { splitCidr, zoneSubnetCidrs } from '../../src/provision/network.js';
import type { Plan } from '../../src/provision/plan.js';
import { renderPlanMarkdown, renderPlanText } from '../../src/provision/plan-render.js';
import { Refs } from '../../src/provision/resource.js';
import type { DesiredRules } from '../../src/provision/security-groups.js';
import { changed, exampleSpec } from '../support/provision-support.js';

const three = exampleSpec('examples/three-zones.yaml', []);
const four = exampleSpec('examples/four-zones.yaml', []);

const ipInt = (cidr: string) => {
  const [ip, bits] = cidr.split('/');
  const start = ip!.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  return [start, start + 2 ** (32 - Number(bits))] as const;
};

describe('subnet CIDRs', () => {
  it('are inside the VPC, never overlap, and stay put when zones are added', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 24 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 255 }),
        (bits, n, octet) => {
          const vpc = `10.${octet}.0.0/${bits}`;
          const zones = Array.from({ length: n }, (_, i) => `eu-west-1${'abcdefgh'[i]}`);
          const cidrs = zoneSubnetCidrs(vpc, zones);
          const all = [...cidrs.values()].flatMap((c) => [c.private, c.public]).map(ipInt);
          const [lo, hi] = ipInt(vpc);
          for (const [s, e] of all) expect(s >= lo && e <= hi).toBe(true);
          const sorted = [...all].sort((a, b) => a[0] - b[0]);
          for (let i = 1; i < sorted.length; i++)
            expect(sorted[i]![0]).toBeGreaterThanOrEqual(sorted[i - 1]![1]);
          const fewer = zoneSubnetCidrs(vpc, zones.slice(0, Math.max(1, n - 1)));
          for (const [z, c] of fewer) expect(cidrs.get(z)).toEqual(c);
        },
      ),
    );
  });
  it('refuses a VPC too small for the subnets', () => {
    expect(() => splitCidr('10.0.0.0/24', 64)).toThrow(/too small/);
  });
});

describe('desired resources', () => {
  const byKey = (spec: ClusterSpec) => new Map(desiredCluster(spec).resources.map((r) => [r.key, r.value]));

  it('master group: min = max = desired = M over every zone, launching hook ABANDON, terminating CONTINUE', () => {
    const m = byKey(four).get('asg/masters') as DesiredGroup;
    expect([m.min, m.max, m.desired]).toEqual([5, 5, 5]);
    expect(m.subnets).toEqual(four.network.zones.map((z) => `subnet/existing/${z}`));
    expect(m.targetGroups).toEqual(['tg/api']);
    expect(m.hooks!.map((h) => [h.transition, h.defaultResult, h.heartbeatTimeout])).toEqual([
      ['autoscaling:EC2_INSTANCE_LAUNCHING', 'ABANDON', 600],
      ['autoscaling:EC2_INSTANCE_TERMINATING', 'CONTINUE', 600],
    ]);
    const w = byKey(four).get('asg/workers') as DesiredGroup;
    expect([w.min, w.max, w.desired]).toEqual([4, 12, 4]);
    // worker.sh drains in Terminating:Wait and completes both hooks; the reconciler settles them too
    expect(w.hooks!.map((h) => [h.name, h.transition, h.defaultResult, h.heartbeatTimeout])).toEqual([
      ['tripod-worker-launching', 'autoscaling:EC2_INSTANCE_LAUNCHING', 'CONTINUE', 600],
      ['tripod-worker-terminating', 'autoscaling:EC2_INSTANCE_TERMINATING', 'CONTINUE', 600],
    ]);
    // without workers.desired tripod does not own the desired capacity
    expect((byKey(three).get('asg/workers') as DesiredGroup).desired).toBeUndefined();
  });

  it("a worker's drain fits inside its terminating hook, and the lifecycle rule routes the worker group", () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 7200 }), (heartbeat) => {
        const spec = changed(three, (s) => {
          s.reconciler.lifecycleHeartbeatSeconds = heartbeat;
        });
        const hooks = (byKey(spec).get('asg/workers') as DesiredGroup).hooks!;
        const terminating = hooks.find((h) => h.transition === 'autoscaling:EC2_INSTANCE_TERMINATING')!;
        const drain = Number(nodeEnvironment(spec, 'worker').TRIPOD_DRAIN_TIMEOUT);
        // AWS takes 30..7200 s; the node completes the action itself after its drain deadline
        expect(terminating.heartbeatTimeout).toBeGreaterThanOrEqual(30);
        expect(terminating.heartbeatTimeout).toBeLessThanOrEqual(7200);
        expect(drain).toBeLessThan(terminating.heartbeatTimeout);
        expect(nodeEnvironment(spec, 'worker').TRIPOD_TERMINATE_HOOK).toBe(terminating.name);
      }),
    );
    const rule = byKey(three).get('rule/lifecycle') as { eventPattern: { detail: Record<string, string[]> } };
    expect(rule.eventPattern.detail.AutoScalingGroupName).toEqual(['demo-eu-masters', 'demo-eu-workers']);
  });

  it('schedulable masters join the service target groups and accept node ports', () => {
    const spec = changed(three, (s) => {
      s.masters.schedulable = true;
    });
    const d = byKey(spec);
    expect((d.get('asg/masters') as DesiredGroup).targetGroups).toEqual([
      'tg/api',
      'tg/svc-80',
      'tg/svc-443',
    ]);
    const rules = (d.get('sg-rules/masters') as DesiredRules).rules;
    expect(rules.filter((r) => r.from === 30080)).toHaveLength(1);
    expect((byKey(three).get('sg-rules/masters') as DesiredRules).rules.some((r) => r.from === 30080)).toBe(
      false,
    );
  });

  it('etcd ports open between masters only (plus the reconciler on the client port)', () => {
    const d = byKey(three);
    const all = (['lb', 'masters', 'workers', 'reconciler'] as const).flatMap((role) =>
      (d.get(`sg-rules/${role}`) as DesiredRules).rules.map((r) => ({ role, ...r })),
    );
    const etcd = all.filter((r) => r.protocol === 'tcp' && r.from <= 2380 && r.to >= 2379);
    expect(etcd.map((r) => [r.role, r.from, r.to, r.source])).toEqual([
      ['masters', 2379, 2380, { group: 'sg/masters' }],
      ['masters', 2379, 2379, { group: 'sg/reconciler' }],
    ]);
    const workerPorts = (d.get('sg-rules/workers') as DesiredRules).rules.filter((r) => r.from >= 30000);
    expect(workerPorts.map((r) => [r.from, r.source])).toEqual([
      [30080, { group: 'sg/lb' }],
      [30443, { group: 'sg/lb' }],
    ]);
  });

  it('a spec naming the reconciler function deploys none and points the rules at it', () => {
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:shared-reconciler';
    const spec = changed(three, (s) => {
      s.reconciler.functionArn = arn;
    });
    const d = byKey(spec);
    expect(d.has('fn/reconciler')).toBe(false);
    expect((d.get('rule/schedule') as { target: unknown }).target).toEqual({ arn });
    expect(byKey(three).has('fn/reconciler')).toBe(true);
  });

  it("the nodes' rule routes both tripod.node events (Member Started and Node Ready) of this cluster", () => {
    const r = byKey(three).get('rule/node-ready') as { eventPattern: Record<string, unknown> };
    expect(r.eventPattern).toEqual({
      source: ['tripod.node'],
      'detail-type': ['Node Ready', 'Member Started'],
      detail: { cluster: [three.name] },
    });
  });

  it('an existing VPC means no network resources; a CIDR means a NAT gateway per zone', () => {
    const keys = (spec: ClusterSpec) => desiredCluster(spec).resources.map((r) => r.key);
    expect(keys(four).filter((k) => /^(vpc|igw|subnet|nat|rtb)/.test(k))).toEqual([]);
    expect(keys(three).filter((k) => k.startsWith('nat/'))).toEqual(
      three.network.zones.map((z) => `nat/${z}`),
    );
  });

  it('private subnets hold the nodes, the reconciler and internal load balancers; public ones the internet-facing load balancers', () => {
    const placement = (spec: ClusterSpec) => {
      const d = byKey(spec);
      const subnets = (key: string) => (d.get(key) as { subnets: string[] } | undefined)?.subnets;
      return {
        masters: subnets('asg/masters'),
        workers: subnets('asg/workers'),
        reconciler: subnets('fn/reconciler'),
        api: subnets('lb/api'),
        svc: subnets('lb/svc'),
      };
    };
    const each = (spec: ClusterSpec, key: (z: string) => string) => spec.network.zones.map(key);
    // tripod's VPC: the API load balancer of three-zones is internet-facing, the service one too
    const own = placement(three);
    const priv = each(three, (z) => `subnet/private/${z}`);
    const pub = each(three, (z) => `subnet/public/${z}`);
    expect(own).toEqual({ masters: priv, workers: priv, reconciler: priv, api: pub, svc: pub });
    const internal = changed(three, (s) => {
      s.apiEndpoint.scheme = 'internal';
      s.serviceEndpoint.scheme = 'internal';
    });
    expect(placement(internal)).toMatchObject({ api: priv, svc: priv });
    // bring your own: the spec's subnets are private, publicSubnets public
    const byo = placement(four);
    const ePriv = each(four, (z) => `subnet/existing/${z}`);
    const ePub = each(four, (z) => `subnet/existing-public/${z}`);
    expect(byo).toEqual({ masters: ePriv, workers: ePriv, reconciler: ePriv, api: ePriv, svc: ePub });
    expect(desiredCluster(four).existingNetwork).toEqual({
      vpcId: four.network.vpcId,
      subnets: four.network.subnets,
      publicSubnets: four.network.publicSubnets,
    });
  });

  it('masters launch with the tripod-<cluster>-master profile, workers with tripod-<cluster>-worker (no CA keys); both overridable', () => {
    const lt = (options: Parameters<typeof desiredCluster>[1] = {}) => {
      const r = new Map(desiredCluster(three, options).resources.map((x) => [x.key, x.value]));
      return [r.get('lt/masters'), r.get('lt/workers')].map(
        (v) => (v as DesiredLaunchTemplate).instanceProfile,
      );
    };
    expect(lt()).toEqual([`tripod-${three.name}-master`, `tripod-${three.name}-worker`]);
    expect(lt({ nodeInstanceProfile: 'm', workerInstanceProfile: 'w' })).toEqual(['m', 'w']);
  });

  it('the backup bucket: named with the account, recorded in the config; none without an account id', () => {
    const withAccount = desiredCluster(three, { accountId: '123456789012' }).resources;
    const bucket = withAccount.find((r) => r.kind === 'backup-bucket');
    expect(bucket?.value).toMatchObject({ name: 'tripod-demo-eu-123456789012-eu-west-1-backups' });
    expect(desiredCluster(three).resources.some((r) => r.kind === 'backup-bucket')).toBe(false);
    const config = (rs: typeof withAccount) => {
      const p = rs.find((r) => r.key === 'param/config')!.value as { render(refs: Refs): string };
      return JSON.parse(p.render(new Refs()));
    };
    expect(config(withAccount)).toMatchObject({
      backupBucket: 'tripod-demo-eu-123456789012-eu-west-1-backups',
      backupIntervalMinutes: three.etcd.backupIntervalMinutes,
      backupRetentionDays: three.etcd.backupRetentionDays,
    });
    // a bucket made elsewhere is recorded, not managed
    const external = desiredCluster(three, { accountId: '123456789012', backupBucket: 'mine' }).resources;
    expect(external.some((r) => r.kind === 'backup-bucket')).toBe(false);
    expect(config(external).backupBucket).toBe('mine');
  });

  it('everything taggable carries the cluster, managed-by and spec tags', () => {
    for (const r of desiredCluster(three, { accountId: '123456789012' }).resources) {
      const tags = (r.value as { tags?: Record<string, string> }).tags;
      if (!tags) continue;
      expect(tags).toMatchObject({
        'tripod:cluster': 'demo-eu',
        'tripod:managed-by': 'tripod',
        team: 'platform',
      });
    }
  });
});

describe('master group guard', () => {
  const topology = deriveTopology(four); // 5 masters, quorum 3, tolerates 2
  const guard = masterGroupGuard(topology);
  const actual = (zones: string[], desired = 5): ActualGroup => ({
    group: {
      name: 'g',
      arn: '',
      min: desired,
      max: desired,
      desired,
      subnetIds: [],
      launchTemplate: undefined,
      targetGroupArns: [],
      tags: {},
      instances: zones.map((zone, i) => ({
        instanceId: `i-${i}`,
        zone,
        lifecycleState: 'InService',
        health: 'Healthy',
      })),
      status: undefined,
    },
    hooks: [],
  });
  const want = (zones: string[], desired = 5) => ({ desired, zones }) as DesiredGroup;

  it('refuses shrinking the masters', () => {
    expect(guard(want(['a', 'b', 'c', 'd'], 3), actual(['a', 'a', 'b', 'c', 'd']))).toMatch(
      /shrinks the masters from 5 to 3/,
    );
  });
  it('allows dropping a zone holding no more masters than the cluster can lose', () => {
    expect(guard(want(['a', 'b', 'c']), actual(['a', 'a', 'b', 'c', 'd']))).toBeUndefined();
  });
  it('refuses dropping zones holding more masters than that', () => {
    expect(guard(want(['c', 'd']), actual(['a', 'a', 'b', 'c', 'd']))).toMatch(
      /drops zone\(s\) a, b holding 3 of 5 masters: more than the 2 the cluster can lose while keeping quorum 3/,
    );
  });
});

describe('plan rendering', () => {
  const plan: Plan = {
    cluster: 'demo',
    region: 'eu-west-1',
    mode: 'apply',
    changes: [
      {
        action: 'update',
        key: 'asg/masters',
        kind: 'auto-scaling-group',
        group: 'instances',
        title: 'master group demo-masters',
        id: 'demo-masters',
        changes: [{ field: 'desired', before: 5, after: 3 }],
        destructive: 'shrinks the masters from 5 to 3: etcd members are removed',
      },
    ],
    summary: { create: 0, update: 1, replace: 0, delete: 0 },
    hasChanges: true,
    destructive: ['master group demo-masters: shrinks the masters from 5 to 3: etcd members are removed'],
    conflicts: [],
    warnings: ['A zone loss is NOT survivable'],
  };
  it('text: summary, + ~ - lines with field changes, destructive and warnings sections', () => {
    const t = renderPlanText(plan);
    expect(t).toContain(
      'Plan for cluster demo (eu-west-1): 0 to create, 1 to update, 0 to replace, 0 to delete.',
    );
    expect(t).toContain('  ~ master group demo-masters (demo-masters)\n        desired: 5 -> 3');
    expect(t).toContain('Destructive changes (apply refuses them without --allow-destructive):');
    expect(t).toContain('Warnings:\n  - A zone loss is NOT survivable');
  });
  it('markdown: a caution block and a diff block', () => {
    const m = renderPlanMarkdown(plan);
    expect(m).toContain('> [!CAUTION]');
    expect(m).toContain('```diff');
    expect(m).toContain('| 0 | 1 | 0 | 0 |');
    // the diff mark replaces the symbol's padding: one mark in column 1, never "+ +" or "! ~"
    expect(m).toContain('! master group demo-masters (demo-masters)\n!       desired: 5 -> 3');
    expect(m).not.toMatch(/^[+!-] {2}[+~-]/m);
  });
  it('no changes says so', () => {
    const none = {
      ...plan,
      changes: [],
      hasChanges: false,
      destructive: [],
      warnings: [],
      summary: { create: 0, update: 0, replace: 0, delete: 0 },
    };
    expect(renderPlanText(none)).toBe('No changes: cluster demo in eu-west-1 matches the spec.');
    expect(renderPlanMarkdown(none)).toContain('**No changes: cluster demo in eu-west-1 matches the spec.**');
  });
});
