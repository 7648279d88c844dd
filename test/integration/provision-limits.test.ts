import { randomBytes } from 'node:crypto';
import { CreateFunctionCommand, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda';
/**
 * AWS limits moto does not enforce, checked by plan before anything is created (provision/limits.ts):
 * each broken by a spec (or the desired value it makes), each message naming the spec field.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { getFunction } from '../../src/adapters/aws/lambda.js';
import { encodeUserData } from '../../src/bootstrap/render.js';
import { DEFAULT_RECONCILER_ROLE } from '../../src/contract/names.js';
import { desiredCluster } from '../../src/provision/desired.js';
import { LimitError, limitProblems } from '../../src/provision/limits.js';
import { planCluster } from '../../src/provision/plan.js';
import { placeholderBundle } from '../../src/provision/reconciler-function.js';
import type { Desired } from '../../src/provision/resource.js';
import { zipSync } from '../../src/provision/zip.js';
import { accountSettings } from '../support/aws-strict.js';
import { changed, clients, ensureReconcilerRole, threeZoneSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'ap-southeast-4';
const spec = threeZoneSpec('pt-limits', REGION, '10.47.0.0/16');
const bundle = placeholderBundle();
const resources = (s = spec, accountId: string | null = '123456789012') =>
  desiredCluster(s, { reconcilerBundle: bundle, ...(accountId ? { accountId } : {}) }).resources;
const withValue = (rs: Desired[], key: string, change: (v: Record<string, unknown>) => void) =>
  rs.map((r) => {
    if (r.key !== key) return r;
    const value = { ...(r.value as Record<string, unknown>) };
    change(value);
    return { ...r, value };
  });

describe('limitProblems: what AWS refuses and moto lets through', () => {
  it('the example specs fit every limit', () => {
    expect(limitProblems(spec, resources())).toEqual([]);
  });

  it('user data over 16384 bytes as EC2 receives it (gzip, before base64), per launch template', () => {
    // Random text barely compresses: find a script whose gzip is just over the limit, and one at it.
    const noise = randomBytes(20_000).toString('base64');
    const sized = (target: number) => {
      let lo = 0;
      let hi = noise.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (encodeUserData(noise.slice(0, mid)).length <= target) lo = mid;
        else hi = mid - 1;
      }
      return noise.slice(0, lo);
    };
    const atLimit = sized(16_384);
    const over = sized(16_500);
    expect(encodeUserData(over).length).toBeGreaterThan(16_384);
    const big = withValue(resources(), 'lt/masters', (v) => {
      v.userData = over;
    });
    expect(limitProblems(spec, big)).toEqual([
      expect.stringMatching(
        /^masters: the launch template's user data is 16\d{3} bytes; EC2 allows at most 16384 bytes before base64/,
      ),
    ]);
    const edge = withValue(resources(), 'lt/workers', (v) => {
      v.userData = atLimit;
    });
    expect(limitProblems(spec, edge)).toEqual([]);
  });

  it('name lengths: a long cluster name names every resource that would be too long', () => {
    // The spec schema stops at 20 characters; a spec built in code is checked all the same. Its
    // desired resources are the example's renamed (rendering user data for so long a name would
    // already exceed 16 KB; no backup bucket: its name has its own check, backup-bucket.ts).
    const longName = `pt-${'l'.repeat(60)}`;
    const long = changed(spec, (s) => {
      s.name = longName;
    });
    const renamed = resources(spec, null).map((r) => {
      const v = r.value as { name?: unknown };
      return typeof v.name === 'string'
        ? { ...r, value: { ...v, name: v.name.replaceAll('pt-limits', longName) } }
        : r;
    });
    const problems = limitProblems(long, renamed);
    const about = (what: string) => problems.filter((p) => p.includes(`the ${what} name`));
    for (const what of ['load balancer', 'target group', 'Lambda function', 'EventBridge rule'])
      expect(about(what).length, what).toBeGreaterThan(0);
    expect(about('load balancer')[0]).toMatch(
      /^name: "pt-l+" makes the load balancer name "pt-l+-api" 67 characters long; AWS allows at most 32 \(choose a shorter cluster name\)$/,
    );
    // Within the limits of the longer names.
    expect(about('Auto Scaling group')).toEqual([]);
    expect(about('security group')).toEqual([]);
  });

  it('more than 50 listeners on the service load balancer', () => {
    const many = changed(spec, (s) => {
      s.serviceEndpoint.ports = Array.from({ length: 51 }, (_, i) => ({
        port: 8000 + i,
        nodePort: 30000 + i,
        protocol: 'TCP' as const,
      }));
    });
    expect(limitProblems(many, resources(many))).toEqual([
      'serviceEndpoint.ports: 51 listeners on load balancer pt-limits-svc; a Network Load Balancer takes at most 50 (not adjustable): use fewer ports',
    ]);
  });

  it('more than 50 lifecycle hooks on a group', () => {
    const hooks = withValue(resources(), 'asg/workers', (v) => {
      v.hooks = Array.from({ length: 51 }, (_, i) => ({
        name: `hook-${i}`,
        transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeatTimeout: 300,
        defaultResult: 'CONTINUE',
      }));
    });
    expect(limitProblems(spec, hooks)).toEqual([
      'workers: 51 lifecycle hooks on group pt-limits-workers; Auto Scaling allows at most 50 per group',
    ]);
  });

  it('reserving concurrency that would leave fewer than 100 unreserved', () => {
    expect(limitProblems(spec, resources(), { limit: 1000, unreserved: 1000, reserving: 1 })).toEqual([]);
    expect(limitProblems(spec, resources(), { limit: 101, unreserved: 101, reserving: 1 })).toEqual([]);
    expect(limitProblems(spec, resources(), { limit: 50, unreserved: 50, reserving: 1 })).toEqual([
      `reconciler: reserving 1 concurrent execution(s) for the reconciler function would leave 49 unreserved of the account's 50 in ${REGION}; Lambda requires at least 100 unreserved. Request a higher "Concurrent executions" quota for Lambda in Service Quotas, or set reconciler.functionArn to a function you run`,
    ]);
  });
});

describe('plan checks the limits before anything is created (moto)', () => {
  let aws: AwsClients;
  beforeAll(async () => {
    await ensureReconcilerRole(endpoint, spec.name);
    aws = clients(endpoint, REGION);
  });
  afterAll(() => aws?.destroy());

  it('a new account with 50 concurrent executions: plan refuses, naming the quota and reconciler.functionArn', async () => {
    accountSettings(aws, 50, 50);
    const e = await planCluster(aws, spec, { reconcilerBundle: bundle }).catch((x) => x);
    expect(e).toBeInstanceOf(LimitError);
    expect((e as Error).message).toMatch(
      /^the spec breaks 1 AWS limit\(s\); nothing was changed:\n {2}- reconciler: reserving 1 concurrent execution\(s\) .* would leave 49 unreserved .*set reconciler\.functionArn/,
    );
    expect(await getFunction(aws, 'pt-limits-reconciler')).toBeUndefined();
  });

  it('the same spec with reconciler.functionArn needs no reservation, but the named function must exist with reserved concurrency 1 (issue 14)', async () => {
    const arn = `arn:aws:lambda:${REGION}:123456789012:function:mine`;
    const own = changed(spec, (s) => {
      s.reconciler.functionArn = arn;
    });
    await expect(planCluster(aws, own, { reconcilerBundle: bundle })).rejects.toThrow(
      /reconciler\.functionArn: .*function:mine does not exist/,
    );
    await aws.lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'mine',
        Role: `arn:aws:iam::123456789012:role/${DEFAULT_RECONCILER_ROLE(spec.name)}`,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Code: { ZipFile: zipSync({ 'index.mjs': 'export const handler = async () => {};' }) },
      }),
    );
    await expect(planCluster(aws, own, { reconcilerBundle: bundle })).rejects.toThrow(
      /reconciler\.functionArn: .*function:mine has no reserved concurrency; the reconciler must never run twice at once: reserve exactly 1/,
    );
    await aws.lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: 'mine', ReservedConcurrentExecutions: 2 }),
    );
    await expect(planCluster(aws, own, { reconcilerBundle: bundle })).rejects.toThrow(
      /reserved concurrency 2/,
    );
    await aws.lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: 'mine', ReservedConcurrentExecutions: 1 }),
    );
    const { plan } = await planCluster(aws, own, { reconcilerBundle: bundle });
    expect(plan.summary.create).toBeGreaterThan(20);
  });

  it('a spec with 51 service ports: plan refuses with the field', async () => {
    const many = changed(spec, (s) => {
      s.serviceEndpoint.ports = Array.from({ length: 51 }, (_, i) => ({
        port: 8000 + i,
        nodePort: 30000 + i,
        protocol: 'TCP' as const,
      }));
    });
    await expect(planCluster(aws, many, { reconcilerBundle: bundle })).rejects.toThrow(
      /serviceEndpoint\.ports: 51 listeners on load balancer pt-limits-svc/,
    );
  });
});
