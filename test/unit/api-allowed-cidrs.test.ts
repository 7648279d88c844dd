/**
 * Issue 15, finding 8: `apiEndpoint.allowedCidrs` narrows who reaches the API (TCP 6443) through its
 * load balancer. The spec refuses bad CIDRs at their line:column, the load balancers' group admits
 * exactly those ranges (plus the nodes, who join through it), an internet-facing API without the
 * field is still open but every plan says so loudly, and the simulator's network (derived from the
 * same declared rules) lets kubectl in from inside the ranges and refuses it from outside.
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../src/action/engine.js';
import { parseInputs } from '../../src/action/inputs.js';
import { makePlan } from '../../src/action/plan.js';
import type { Runner } from '../../src/action/runner.js';
import { formatProblem, parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import { topologyMarkdown, topologyTable } from '../../src/cluster-spec/topology-render.js';
import { type DesiredCluster, desiredCluster } from '../../src/provision/desired.js';
import type { Plan } from '../../src/provision/plan.js';
import { renderPlanMarkdown, renderPlanText } from '../../src/provision/plan-render.js';
import { Refs } from '../../src/provision/resource.js';
import {
  type DesiredRule,
  type DesiredRules,
  securityGroupRulesKind,
} from '../../src/provision/security-groups.js';
import { NetworkModel } from '../../src/sim/network.js';
import { simulate } from '../../src/sim/run.js';
import { simSpec } from '../../src/sim/sim-spec.js';
import { MINIMAL_SPEC } from '../support/spec-text.js';

const yaml = (api: string) => `${MINIMAL_SPEC}apiEndpoint:
${api}`;

function problems(text: string): string[] {
  const r = parseSpec(text, 'cluster.yaml');
  return r.ok ? [] : r.problems.map(formatProblem);
}

function spec(api: Partial<ClusterSpec['apiEndpoint']>, network?: Partial<ClusterSpec['network']>) {
  const s = simSpec({
    cluster: 'acl',
    region: 'eu-west-1',
    zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    masters: 3,
  });
  Object.assign(s.apiEndpoint, api);
  if (network) Object.assign(s.network, network);
  return s;
}

const apiRules = (d: DesiredCluster): DesiredRule[] =>
  (d.resources.find((r) => r.key === 'sg-rules/lb')!.value as DesiredRules).rules.filter(
    (r) => r.from === 6443,
  );

describe('spec: apiEndpoint.allowedCidrs', () => {
  it('accepts IPv4 CIDRs of any prefix', () => {
    expect(
      problems(
        yaml('  scheme: internet-facing\n  allowedCidrs: [203.0.113.0/24, 198.51.100.7/32, 0.0.0.0/0]\n'),
      ),
    ).toEqual([]);
  });

  it('refuses a bad CIDR, host bits, a repeat and an empty list at their line:column', () => {
    expect(
      problems(
        yaml(
          '  allowedCidrs:\n    - 203.0.113.0/24\n    - 10.0.0.1/16\n    - 300.1.1.1/32\n    - office\n    - 203.0.113.0/24\n',
        ),
      ),
    ).toEqual([
      'cluster.yaml:12:7 apiEndpoint.allowedCidrs[1]: has bits set after the prefix: give the network address',
      'cluster.yaml:13:7 apiEndpoint.allowedCidrs[2]: is not a valid IPv4 CIDR (octets up to 255, prefix up to /32)',
      'cluster.yaml:14:7 apiEndpoint.allowedCidrs[3]: must be an IPv4 CIDR like 203.0.113.0/24 (a single address is /32)',
      'cluster.yaml:15:7 apiEndpoint.allowedCidrs[4]: repeats 203.0.113.0/24 (AWS refuses a duplicate rule)',
    ]);
    expect(problems(yaml('  allowedCidrs: []\n'))).toEqual([
      'cluster.yaml:10:17 apiEndpoint.allowedCidrs: needs at least one CIDR (leave the field out for the default)',
    ]);
  });
});

describe('the load balancers group admits the allowed ranges and the nodes on 6443', () => {
  const sources = (s: ClusterSpec) => apiRules(desiredCluster(s)).map((r) => r.source);

  it('internal, default: the VPC CIDR (which holds every node)', () => {
    expect(sources(spec({ scheme: 'internal' }))).toEqual([{ cidr: '10.0.0.0/16' }]);
  });

  it('internal, given: those ranges and the workers group', () => {
    expect(sources(spec({ scheme: 'internal', allowedCidrs: ['10.99.0.0/16'] }))).toEqual([
      { cidr: '10.99.0.0/16' },
      { group: 'sg/workers' },
    ]);
  });

  it('internal in an existing VPC: its CIDR as AWS reports it (resolved when planning) and the workers', () => {
    const s = spec(
      { scheme: 'internal' },
      {
        cidr: undefined,
        vpcId: 'vpc-0abc1234',
        subnets: {
          'eu-west-1a': 'subnet-0aaa1111',
          'eu-west-1b': 'subnet-0bbb2222',
          'eu-west-1c': 'subnet-0ccc3333',
        },
      },
    );
    const rules = apiRules(desiredCluster(s));
    expect(rules.map((r) => r.source)).toEqual([{ cidrOf: 'vpc' }, { group: 'sg/workers' }]);
    const refs = new Refs();
    refs.set('vpc', { id: 'vpc-0abc1234', cidr: '172.31.0.0/16' });
    refs.set('sg/workers', { id: 'sg-0workers' });
    refs.set('sg/lb', { id: 'sg-0lb' });
    const found = {
      key: 'sg-rules/lb',
      kind: 'security-group-rules',
      title: 'rules',
      id: 'sg-0lb',
      owned: true,
      attrs: { id: 'sg-0lb' },
      actual: { id: 'sg-0lb', name: 'acl-lb', vpcId: 'vpc-0abc1234', description: '', ingress: [], tags: {} },
    };
    const { changes } = securityGroupRulesKind.compare({ group: 'sg/lb', rules }, found, refs);
    expect(changes.map((c) => c.after)).toEqual(['tcp 6443 from 172.31.0.0/16', 'tcp 6443 from sg-0workers']);
  });

  it('internet-facing, default: 0.0.0.0/0, and the plan warns loudly in text and Markdown', () => {
    const s = spec({ scheme: 'internet-facing' });
    expect(sources(s)).toEqual([{ cidr: '0.0.0.0/0' }]);
    const t = deriveTopology(s);
    expect(t.warnings).toEqual([expect.stringMatching(/^The Kubernetes API is OPEN TO THE WHOLE INTERNET/)]);
    expect(topologyTable(t)).toMatch(/WARNING: The Kubernetes API is OPEN TO THE WHOLE INTERNET/);
    expect(topologyMarkdown(t)).toMatch(/> \[!WARNING\]\n> The Kubernetes API is OPEN TO THE WHOLE INTERNET/);
    const plan = {
      cluster: 'acl',
      region: 'eu-west-1',
      changes: [],
      warnings: t.warnings,
    } as unknown as Plan;
    const p = {
      ...plan,
      summary: { create: 0, update: 0, replace: 0, delete: 0 },
      destructive: [],
      conflicts: [],
    };
    expect(renderPlanText(p as Plan)).toMatch(
      /Warnings:\n {2}- The Kubernetes API is OPEN TO THE WHOLE INTERNET/,
    );
    expect(renderPlanMarkdown(p as Plan)).toMatch(/> The Kubernetes API is OPEN TO THE WHOLE INTERNET/);
  });

  it('internet-facing, given: those ranges and the NAT gateways the workers leave from; no warning', () => {
    const s = spec({ scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] });
    expect(sources(s)).toEqual([
      { cidr: '203.0.113.0/24' },
      { cidrOf: 'nat/eu-west-1a' },
      { cidrOf: 'nat/eu-west-1b' },
      { cidrOf: 'nat/eu-west-1c' },
    ]);
    expect(deriveTopology(s).warnings).toEqual([]);
    expect(deriveTopology(spec({ scheme: 'internal' })).warnings).toEqual([]);
  });
});

describe('the simulator network derives who reaches the API from the declared rules', () => {
  const throughApi = (s: ClusterSpec, client: Parameters<NetworkModel['throughListener']>[0]) =>
    NetworkModel.of(s, desiredCluster(s)).throughListener(client, 'lb/api', 'tcp', 6443);

  it('kubectl from inside allowedCidrs gets through, from outside it is blocked (internet-facing)', () => {
    const s = spec({ scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] });
    expect(throughApi(s, 'addr/203.0.113.9')).toBeUndefined();
    expect(throughApi(s, 'addr/198.51.100.7')).toBe(
      'blocked by security group: addr/198.51.100.7 -> lb/api tcp/6443',
    );
    expect(throughApi(s, 'internet')).toMatch(/^blocked by security group: internet -> lb\/api/);
    // Without allowedCidrs the whole internet gets in (what plan warns about).
    expect(throughApi(spec({ scheme: 'internet-facing' }), 'addr/198.51.100.7')).toBeUndefined();
  });

  it('internal: the VPC by default, only the given ranges when set', () => {
    expect(throughApi(spec({ scheme: 'internal' }), 'vpc')).toBeUndefined();
    expect(throughApi(spec({ scheme: 'internal' }), 'addr/10.0.200.9')).toBeUndefined();
    expect(throughApi(spec({ scheme: 'internal' }), 'addr/192.168.1.1')).toMatch(/^blocked/);
    const narrow = spec({ scheme: 'internal', allowedCidrs: ['10.0.200.0/24'] });
    expect(throughApi(narrow, 'addr/10.0.200.9')).toBeUndefined();
    expect(throughApi(narrow, 'addr/10.0.100.9')).toMatch(/^blocked/);
    expect(throughApi(narrow, 'workers')).toBeUndefined();
  });

  it('workers reach an internet-facing API from their NAT gateways: without those rules they are blocked', () => {
    const s = spec({ scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] });
    const d = desiredCluster(s);
    expect(NetworkModel.of(s, d).throughListener('workers', 'lb/api', 'tcp', 6443)).toBeUndefined();
    const withoutNats: DesiredCluster = {
      ...d,
      resources: d.resources.map((r) =>
        r.key === 'sg-rules/lb'
          ? {
              ...r,
              value: {
                ...(r.value as DesiredRules),
                rules: (r.value as DesiredRules).rules.filter((x) => !('cidrOf' in x.source)),
              },
            }
          : r,
      ),
    };
    expect(NetworkModel.of(s, withoutNats).throughListener('workers', 'lb/api', 'tcp', 6443)).toBe(
      'blocked by security group: workers -> lb/api tcp/6443',
    );
    // A group reference does not help: the load balancer sees the NAT's public address.
    const byGroup: DesiredCluster = {
      ...withoutNats,
      resources: withoutNats.resources.map((r) =>
        r.key === 'sg-rules/lb'
          ? {
              ...r,
              value: {
                ...(r.value as DesiredRules),
                rules: [
                  ...(r.value as DesiredRules).rules,
                  {
                    protocol: 'tcp',
                    from: 6443,
                    to: 6443,
                    source: { group: 'sg/workers' },
                    description: 'x',
                  },
                ],
              },
            }
          : r,
      ),
    };
    expect(NetworkModel.of(s, byGroup).throughListener('workers', 'lb/api', 'tcp', 6443)).toMatch(/^blocked/);
  });

  it('a cluster behind allowedCidrs forms and serves in the simulator (every data-plane path open)', async () => {
    const s = spec({ scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] });
    const network = NetworkModel.of(s, desiredCluster(s));
    expect(network.dataPlaneBlocked()).toEqual([]);
    const r = await simulate({ seed: 11, spec: s, network, faults: [], convergeWithinMs: 30 * 60_000 });
    expect(r.violations).toEqual([]);
    expect(r.timeline).not.toContain('blocked by security group');
  });
});

describe("the Action's log", () => {
  it('an internet-facing API without allowedCidrs is a warning annotation on every plan', async () => {
    const log: string[] = [];
    const runner = {
      info: (t: string) => log.push(t),
      warning: (t: string) => log.push(`::warning::${t}`),
      startGroup: (n: string) => log.push(`::group::${n}`),
      endGroup: () => log.push('::endgroup::'),
    } as unknown as Runner;
    const engine = {
      plan: async () => ({
        hasChanges: false,
        changesCount: 0,
        destructive: [],
        conflicts: [],
        diff: '',
        text: '',
        json: {},
      }),
    } as unknown as Engine;
    const run = (s: ClusterSpec) =>
      makePlan({
        inputs: parseInputs(() => '', 'push'),
        spec: s,
        topology: deriveTopology(s),
        context: { tempDir: tmpdir() } as never,
        engine,
        runner,
      });
    await run(spec({ scheme: 'internet-facing' }));
    expect(log.filter((l) => l.startsWith('::warning::'))).toEqual([
      expect.stringMatching(/^::warning::The Kubernetes API is OPEN TO THE WHOLE INTERNET/),
    ]);
    log.length = 0;
    await run(spec({ scheme: 'internet-facing', allowedCidrs: ['203.0.113.0/24'] }));
    expect(log.filter((l) => l.startsWith('::warning::'))).toEqual([]);
  });
});
