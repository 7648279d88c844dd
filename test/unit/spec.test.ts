import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusterCidrs, overlaps, parseCidr } from '../../src/cluster-spec/cidr.js';
import { loadSpecFile } from '../../src/cluster-spec/file.js';
import { formatProblem, parseSpec } from '../../src/cluster-spec/load.js';
import { MINIMAL_SPEC } from '../support/spec-text.js';

const base = MINIMAL_SPEC;

function problems(text: string) {
  const r = parseSpec(text, 'cluster.yaml');
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem);
}

describe('spec loading', () => {
  it('accepts a minimal spec and fills defaults', () => {
    const r = parseSpec(base);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.masters.count).toBe('auto');
    expect(r.spec.masters.instanceType).toBe('m6i.large');
    expect(r.spec.workers.min).toBe(3);
    expect(r.spec.apiEndpoint.scheme).toBe('internal');
    expect(r.spec.serviceEndpoint.ports.map((p) => p.port)).toEqual([80, 443]);
    expect(r.spec.etcd.backupIntervalMinutes).toBe(15);
  });

  it('both examples validate', () => {
    expect(loadSpecFile('examples/three-zones.yaml').ok).toBe(true);
    expect(loadSpecFile('examples/four-zones.yaml').ok).toBe(true);
  });

  it('reports every mistake at once with line, column and field', () => {
    const text = `apiVersion: tripod/v1
kind: Cluster
name: Bad_Name
region: eu-west-1
kubernetesVersion: 1.32
netwrok: {}
network:
  vpcId: vpc-0a1b2c3d4e5f60718
  zones: [eu-west-1a, eu-west-1a, eu-west-1d, us-east-1a]
  subnets:
    eu-west-1a: subnet-0aa11bb22cc33dd44
masters:
  count: 4
  instnceType: m6i.large
`;
    const out = problems(text);
    expect(out).toContain(
      'cluster.yaml:3:7 name: must start with a lowercase letter and contain only lowercase letters, digits and hyphens, not ending in a hyphen (AWS load balancer naming)',
    );
    expect(out).toContain(
      'cluster.yaml:5:20 kubernetesVersion: must be a string, got number 1.32 (quote it: YAML reads 1.32 as a number)',
    );
    expect(out).toContain('cluster.yaml:6:1 netwrok: unknown field "netwrok": did you mean "network"?');
    expect(out).toContain('cluster.yaml:9:23 network.zones[1]: duplicate zone eu-west-1a (also at index 0)');
    expect(
      out.some((l) =>
        l.startsWith('cluster.yaml:9:35 network.zones[2]: zone eu-west-1d does not exist in eu-west-1'),
      ),
    ).toBe(true);
    expect(
      out.some((l) =>
        l.startsWith('cluster.yaml:9:47 network.zones[3]: zone us-east-1a is not in region eu-west-1'),
      ),
    ).toBe(true);
    expect(out).toContain('cluster.yaml:10:3 network.subnets: missing subnet for zone eu-west-1d');
    expect(out.some((l) => l.startsWith('cluster.yaml:13:10 masters.count: must be odd'))).toBe(true);
    expect(out).toContain(
      'cluster.yaml:14:3 masters.instnceType: unknown field "instnceType": did you mean "instanceType"?',
    );
    expect(out).toContain(
      'cluster.yaml:8:3 network.vpcId: serviceEndpoint.scheme is internet-facing: give network.publicSubnets, one public subnet id per zone (its load balancer cannot live in the private node subnets)',
    );
    expect(out).toHaveLength(11);
  });

  it('reports YAML syntax errors with their position', () => {
    const out = problems('apiVersion: tripod/v1\nkind: [Cluster,\nname: x\n');
    expect(out[0]).toMatch(/^cluster\.yaml:\d+:\d+ \(yaml\): /);
  });

  it('rejects duplicate keys', () => {
    expect(problems(`${base}name: again\n`)[0]).toMatch(
      /^cluster\.yaml:9:1 \(yaml\): Map keys must be unique/,
    );
  });

  it('names missing fields', () => {
    const out = problems('apiVersion: tripod/v1\nkind: Cluster\n');
    expect(out).toEqual(
      expect.arrayContaining([
        'cluster.yaml:1:1 name: is required',
        'cluster.yaml:1:1 region: is required',
        'cluster.yaml:1:1 network: is required',
      ]),
    );
  });

  it('checks cross-field rules', () => {
    expect(problems(base.replace('  cidr: 10.40.0.0/16\n', ''))).toContain(
      'cluster.yaml:7:3 network: give either cidr (tripod creates the VPC) or vpcId + subnets',
    );
    const w = problems(`${base}workers:\n  min: 5\n  max: 2\n  desired: 9\n`);
    expect(w).toContain('cluster.yaml:10:8 workers.min: min (5) is greater than max (2)');
    expect(w).toContain(
      'cluster.yaml:12:12 workers.desired: desired (9) must be between min (5) and max (2)',
    );
    expect(problems(`${base}apiEndpoint:\n  dnsName: api.example.com\n`)).toContain(
      'cluster.yaml:10:3 apiEndpoint.dnsName: a DNS name needs hostedZoneId, the Route 53 zone to create it in',
    );
    expect(
      problems(
        `${base}serviceEndpoint:\n  ports:\n    - {port: 80, nodePort: 30080}\n    - {port: 80, nodePort: 30081}\n`,
      ),
    ).toContain('cluster.yaml:12:14 serviceEndpoint.ports[1].port: port 80 is listed twice');
  });

  it('bring-your-own network: private subnets per zone, public ones when a load balancer is internet-facing', () => {
    const own = `apiVersion: tripod/v1
kind: Cluster
name: demo
region: eu-west-1
kubernetesVersion: 1.32.4
network:
  vpcId: vpc-0a1b2c3d4e5f60718
  zones: [eu-west-1a, eu-west-1b]
  subnets:
    eu-west-1a: subnet-0aa11bb22cc33dd44
    eu-west-1b: subnet-0bb22cc33dd44ee55
`;
    const internal = `serviceEndpoint:\n  scheme: internal\n`;
    // only internal load balancers: the private subnets do
    const ok = parseSpec(own + internal);
    expect(ok.ok).toBe(true);
    // the service load balancer is internet-facing by default
    expect(problems(own)).toEqual([
      'cluster.yaml:7:3 network.vpcId: serviceEndpoint.scheme is internet-facing: give network.publicSubnets, one public subnet id per zone (its load balancer cannot live in the private node subnets)',
    ]);
    expect(problems(`${own}apiEndpoint:\n  scheme: internet-facing\n${internal}`)[0]).toMatch(
      /^cluster\.yaml:7:3 network\.vpcId: apiEndpoint\.scheme is internet-facing: give network\.publicSubnets/,
    );
    const pub = (zones: Record<string, string>) =>
      `${own}  publicSubnets:\n${Object.entries(zones)
        .map(([z, id]) => `    ${z}: ${id}\n`)
        .join('')}`;
    const both = parseSpec(
      pub({ 'eu-west-1a': 'subnet-0cc33dd44ee55ff66', 'eu-west-1b': 'subnet-0dd44ee55ff667788' }),
    );
    expect(both.ok && both.spec.network.publicSubnets).toEqual({
      'eu-west-1a': 'subnet-0cc33dd44ee55ff66',
      'eu-west-1b': 'subnet-0dd44ee55ff667788',
    });
    expect(
      problems(pub({ 'eu-west-1a': 'subnet-0cc33dd44ee55ff66', 'eu-west-1c': 'subnet-0dd44ee55ff667788' })),
    ).toEqual([
      'cluster.yaml:12:3 network.publicSubnets: missing public subnet for zone eu-west-1b',
      'cluster.yaml:14:5 network.publicSubnets.eu-west-1c: zone eu-west-1c has a public subnet but is not in network.zones',
    ]);
    expect(
      problems(pub({ 'eu-west-1a': 'subnet-0aa11bb22cc33dd44', 'eu-west-1b': 'subnet-0dd44ee55ff667788' })),
    ).toEqual([
      'cluster.yaml:13:17 network.publicSubnets.eu-west-1a: subnet-0aa11bb22cc33dd44 is also the private subnet of eu-west-1a: nodes and the reconciler need a private subnet (through NAT), internet-facing load balancers a public one',
    ]);
    expect(problems(`${base}  publicSubnets:\n    eu-west-1a: subnet-0cc33dd44ee55ff66\n`)).toContain(
      'cluster.yaml:9:3 network.publicSubnets: publicSubnets are only used with vpcId (with cidr tripod makes them)',
    );
  });

  it('pod and service ranges: defaults clear of the VPC, user values checked against it and each other', () => {
    const spec = (extra: string, cidr = '10.40.0.0/16') => {
      const r = parseSpec(base.replace('10.40.0.0/16', cidr) + extra);
      if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
      return r.spec;
    };
    expect(clusterCidrs(spec('').network)).toEqual({ pods: '10.244.0.0/16', services: '10.96.0.0/12' });
    // a VPC where the defaults would be moves them elsewhere
    expect(clusterCidrs(spec('', '10.244.0.0/16').network)).toEqual({
      pods: '172.20.0.0/16',
      services: '10.96.0.0/12',
    });
    expect(clusterCidrs(spec('', '10.100.0.0/16').network)).toEqual({
      pods: '10.244.0.0/16',
      services: '172.21.0.0/16',
    });
    expect(clusterCidrs(spec('  services: 10.244.0.0/16\n', '172.20.0.0/16').network)).toEqual({
      pods: '192.168.0.0/17',
      services: '10.244.0.0/16',
    });
    expect(problems(`${base}  pods: 10.40.128.0/17\n  services: 10.40.0.0/12\n`)).toEqual([
      'cluster.yaml:9:9 network.pods: 10.40.128.0/17 overlaps the VPC 10.40.0.0/16 (network.cidr): pod and service addresses must not be VPC addresses',
      'cluster.yaml:10:13 network.services: has bits set after the prefix: give the network address',
      'cluster.yaml:10:13 network.services: 10.40.0.0/12 overlaps the VPC 10.40.0.0/16 (network.cidr): pod and service addresses must not be VPC addresses',
      'cluster.yaml:10:13 network.services: 10.40.0.0/12 overlaps network.pods 10.40.128.0/17',
    ]);
    expect(problems(`${base}  pods: 10.32.0.0/12\n  services: 10.40.0.0/16\n`)).toEqual([
      'cluster.yaml:9:9 network.pods: 10.32.0.0/12 overlaps the VPC 10.40.0.0/16 (network.cidr): pod and service addresses must not be VPC addresses',
      'cluster.yaml:10:13 network.services: 10.40.0.0/16 overlaps the VPC 10.40.0.0/16 (network.cidr): pod and service addresses must not be VPC addresses',
      'cluster.yaml:10:13 network.services: 10.40.0.0/16 overlaps network.pods 10.32.0.0/12',
    ]);
    expect(problems(`${base}  pods: 10.244.0.0/24\n  services: 192.0.0.0/8\n`)).toEqual([
      'cluster.yaml:9:9 network.pods: must have a prefix between /8 and /22 (every node gets a /24 of it)',
      'cluster.yaml:10:13 network.services: must have a prefix between /12 and /24 (kube-apiserver refuses a service range wider than /12)',
    ]);
    // the property: whatever VPC the spec makes, the defaults clear it and each other
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 16, max: 24 }),
        (block, octet, bits) => {
          const vpc = parseCidr(`${['10', '172', '192'][block]}.${octet}.0.0/${bits}`)!;
          const c = clusterCidrs({ cidr: vpc.text });
          const [pods, services] = [parseCidr(c.pods)!, parseCidr(c.services)!];
          expect(overlaps(pods, vpc) || overlaps(services, vpc) || overlaps(pods, services)).toBe(false);
        },
      ),
    );
  });

  it('says what masters.count accepts', () => {
    expect(problems(`${base}masters:\n  count: three\n`)).toEqual([
      'cluster.yaml:10:10 masters.count: must be "auto" or an odd whole number',
    ]);
  });

  it('rejects names AWS would reject', () => {
    expect(problems(base.replace('name: demo', 'name: a-very-long-cluster-name-indeed'))[0]).toMatch(
      /name: must be at most 20 characters/,
    );
    expect(problems(base.replace('name: demo', 'name: demo-'))[0]).toMatch(
      /name: must start with a lowercase letter/,
    );
    expect(problems(base.replace('name: demo', 'name: de--mo'))[0]).toMatch(/two hyphens/);
  });

  it('reports a missing file as a problem, not an exception', () => {
    const r = loadSpecFile('does/not/exist.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(formatProblem(r.problems[0]!)).toBe('does/not/exist.yaml:1:1 (file): file not found');
  });
});
