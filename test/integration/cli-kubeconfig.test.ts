/**
 * `tripod kubeconfig` against moto holding a cluster's Kubernetes CA in SSM (made as the seed makes
 * it, src/bootstrap/scripts/master.sh generate_ca): the client certificate verifies against that CA
 * with `openssl verify`, carries the admin group as O=, expires after --ttl, the key is the
 * certificate's; the endpoint is apiEndpoint.dnsName, else the API load balancer's DNS name; --merge
 * keeps every other entry, replaces its own, and writes 0600.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSubnetCommand, CreateVpcCommand } from '@aws-sdk/client-ec2';
import { CreateLoadBalancerCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';
import { putParameter } from '../../src/adapters/aws/ssm.js';
import { resourceNames } from '../../src/contract/names.js';
import { caParameter } from '../../src/contract/protocol.js';
import { cli } from '../support/cli.js';
import { minimalSpec } from '../support/spec-text.js';

const REGION = 'eu-north-1';
const name = `kc${Date.now().toString(36)}${process.pid % 1000}`.slice(0, 20);
const ctx = `tripod-${name}-${REGION}`;
let aws: AwsClients;
let dir: string;
let endpoint: string;
let lbDns: string;

function specFile(file: string, extra = ''): string {
  const path = join(dir, file);
  writeFileSync(path, minimalSpec({ name, region: REGION, cidr: '10.50.0.0/16' }) + extra);
  return path;
}

const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** The kubeconfig's user certificate and key, written to files, and its server. */
function unpack(text: string, tag: string) {
  const k = parse(text);
  const user = k.users.find((u: { name: string }) => u.name === ctx).user;
  const cluster = k.clusters.find((c: { name: string }) => c.name === ctx).cluster;
  const cert = join(dir, `${tag}.crt`);
  const key = join(dir, `${tag}.key`);
  const ca = join(dir, `${tag}-ca.crt`);
  writeFileSync(cert, Buffer.from(user['client-certificate-data'], 'base64'));
  writeFileSync(key, Buffer.from(user['client-key-data'], 'base64'));
  writeFileSync(ca, Buffer.from(cluster['certificate-authority-data'], 'base64'));
  return { k, cert, key, ca, server: cluster.server as string };
}

beforeAll(async () => {
  endpoint = inject('motoEndpoint');
  process.env.TRIPOD_AWS_MAX_ATTEMPTS = '1';
  aws = createAwsClients({ region: REGION, endpoint, maxAttempts: 1 });
  dir = mkdtempSync(join(tmpdir(), 'tripod-kubeconfig-'));
  // the seed's CA: RSA 2048, self-signed, stored as "certificate + key" SecureString
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-days',
    '3650',
    '-sha256',
    '-subj',
    '/CN=kubernetes-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
  );
  await putParameter(aws, {
    name: caParameter(name, 'kubernetes-ca'),
    value: readFileSync(join(dir, 'ca.crt'), 'utf8') + readFileSync(join(dir, 'ca.key'), 'utf8'),
    tags: {},
    overwrite: false,
    secure: true,
  });
  // the API load balancer, as the provisioner names it
  const vpc = await aws.ec2.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }));
  const subnet = await aws.ec2.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc!.VpcId!,
      CidrBlock: '10.50.1.0/24',
      AvailabilityZone: `${REGION}a`,
    }),
  );
  const lb = await aws.elbv2.send(
    new CreateLoadBalancerCommand({
      Name: resourceNames(name).apiLoadBalancer,
      Type: 'network',
      Scheme: 'internal',
      Subnets: [subnet.Subnet!.SubnetId!],
    }),
  );
  lbDns = lb.LoadBalancers![0]!.DNSName!;
}, 60_000);

afterAll(() => {
  aws?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('tripod kubeconfig', () => {
  it('signs a client certificate that verifies against the cluster CA, in the admin group, expiring after --ttl', async () => {
    const out = join(dir, 'a.kubeconfig');
    const before = Date.now();
    const r = await cli(
      'kubeconfig',
      '-f',
      specFile('a.yaml'),
      '--output',
      out,
      '--ttl',
      '2h',
      '--endpoint-url',
      endpoint,
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const { k, cert, key, ca, server } = unpack(readFileSync(out, 'utf8'), 'a');
    expect(openssl('verify', '-CAfile', join(dir, 'ca.crt'), cert).trim()).toBe(`${cert}: OK`);
    // the kubeconfig trusts the cluster CA for the server
    expect(readFileSync(ca, 'utf8')).toBe(readFileSync(join(dir, 'ca.crt'), 'utf8'));
    const subject = openssl('x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253').trim();
    expect(subject).toMatch(/^subject=CN=tripod:arn:aws:[^,]+,O=tripod:cluster-admins$/);
    const end = Date.parse(
      openssl('x509', '-in', cert, '-noout', '-enddate').trim().replace('notAfter=', ''),
    );
    expect(end).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 2 * 3600_000 - 1000);
    expect(end).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    expect(openssl('x509', '-in', cert, '-noout', '-ext', 'extendedKeyUsage')).toContain(
      'TLS Web Client Authentication',
    );
    // the key is the certificate's
    expect(openssl('pkey', '-in', key, '-pubout')).toBe(openssl('x509', '-in', cert, '-noout', '-pubkey'));
    // no apiEndpoint.dnsName: the API load balancer's own name
    expect(server).toBe(`https://${lbDns}:6443`);
    expect(k['current-context']).toBe(ctx);
  });

  it('uses apiEndpoint.dnsName when the spec has one; without --output it prints the kubeconfig', async () => {
    const file = specFile('b.yaml', 'apiEndpoint:\n  dnsName: api.kc.example.com\n  hostedZoneId: Z123ABC\n');
    const r = await cli('kubeconfig', '-f', file, '--endpoint-url', endpoint);
    expect(r.code, r.err).toBe(0);
    const { server, cert } = unpack(r.out, 'b');
    expect(server).toBe('https://api.kc.example.com:6443');
    const end = Date.parse(
      openssl('x509', '-in', cert, '-noout', '-enddate').trim().replace('notAfter=', ''),
    );
    expect(Math.abs(end - (Date.now() + 12 * 3600_000))).toBeLessThan(60_000); // the default --ttl 12h
  });

  it('--merge keeps every other cluster, user and context, replaces its own, and writes 0600', async () => {
    const path = join(dir, 'kube', 'config');
    const other = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'kind-dev', cluster: { server: 'https://127.0.0.1:6443' } },
        { name: ctx, cluster: { server: 'https://old.example.com:6443' } },
      ],
      users: [
        { name: 'kind-dev', user: { token: 'abc' } },
        { name: ctx, user: { token: 'old' } },
      ],
      contexts: [
        { name: 'kind-dev', context: { cluster: 'kind-dev', user: 'kind-dev', namespace: 'x' } },
        { name: ctx, context: { cluster: ctx, user: ctx } },
      ],
      'current-context': 'kind-dev',
      preferences: { colors: true },
      extensions: [{ name: 'keep-me', extension: { a: 1 } }],
    };
    execFileSync('mkdir', ['-p', join(dir, 'kube')]);
    writeFileSync(path, stringify(other), { mode: 0o644 });
    const env = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `${path}:${join(dir, 'second')}`; // the first file is the one updated
    try {
      const r = await cli('kubeconfig', '-f', specFile('c.yaml'), '--merge', '--endpoint-url', endpoint);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain(`updated context ${ctx} in ${path}`);
    } finally {
      if (env === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = env;
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    const { k, cert } = unpack(text, 'c');
    expect(k.clusters.map((c: { name: string }) => c.name)).toEqual(['kind-dev', ctx]);
    expect(k.users.map((c: { name: string }) => c.name)).toEqual(['kind-dev', ctx]);
    expect(k.contexts.map((c: { name: string }) => c.name)).toEqual(['kind-dev', ctx]);
    expect(k.clusters[0]).toEqual(other.clusters[0]);
    expect(k.users[0]).toEqual(other.users[0]);
    expect(k.contexts[0]).toEqual(other.contexts[0]);
    expect(k.preferences).toEqual({ colors: true });
    expect(k.extensions).toEqual(other.extensions);
    expect(k['current-context']).toBe(ctx);
    expect(k.clusters[1].cluster.server).toBe(`https://${lbDns}:6443`);
    expect(openssl('verify', '-CAfile', join(dir, 'ca.crt'), cert).trim()).toBe(`${cert}: OK`);
  });

  it('a file that is not a kubeconfig is left alone', async () => {
    const path = join(dir, 'not-a-kubeconfig');
    writeFileSync(path, '- just\n- a list\n');
    const r = await cli(
      'kubeconfig',
      '-f',
      specFile('d.yaml'),
      '--merge',
      '-o',
      path,
      '--endpoint-url',
      endpoint,
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${path} is not a kubeconfig (not a YAML mapping): nothing written`);
    expect(readFileSync(path, 'utf8')).toBe('- just\n- a list\n');
  });

  it('refuses a bad --ttl (exit 64) and says where the CA should be when the cluster has none (exit 1)', async () => {
    for (const ttl of ['12', 'forever', '30s', '8d']) {
      const r = await cli('kubeconfig', '-f', specFile('e.yaml'), '--ttl', ttl, '--endpoint-url', endpoint);
      expect(r.code, ttl).toBe(64);
      expect(r.err).toContain('--ttl');
    }
    const missing = specFile('f.yaml').replace('f.yaml', 'g.yaml');
    writeFileSync(
      missing,
      readFileSync(join(dir, 'f.yaml'), 'utf8').replace(`name: ${name}`, 'name: nosuchcluster'),
    );
    const r = await cli('kubeconfig', '-f', missing, '--endpoint-url', endpoint);
    expect(r.code).toBe(1);
    expect(r.err).toContain('/tripod/nosuchcluster/pki/kubernetes-ca not found');
  });

  it('--help documents every flag', async () => {
    const r = await cli('kubeconfig', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--spec', '--output', '--ttl', '--merge', '--endpoint-url', '--region', '--help'])
      expect(r.out + r.err).toContain(flag);
  });
});
