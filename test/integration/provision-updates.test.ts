/**
 * Against moto: resources in the way without tripod's tags are conflicts (never touched), a new
 * reconciler bundle is uploaded only when its hash changes, and a renamed cluster is flagged.
 */
import { CreateTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { findVpcs, tagFilter } from '../../src/adapters/aws/ec2.js';
import { createFunction, getFunction } from '../../src/adapters/aws/lambda.js';
import { CLUSTER_TAG } from '../../src/contract/protocol.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { explainRole, placeholderBundle } from '../../src/provision/reconciler-function.js';
import { zipSync } from '../../src/provision/zip.js';
import { changed, clients, ensureReconcilerRole, threeZoneSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'sa-east-1';
const spec = threeZoneSpec('pt-upd', REGION, '10.42.0.0/16');
const bundle = (text: string) => ({
  zip: zipSync({ 'index.mjs': `export const handler = async () => '${text}';\n` }),
  handler: 'index.handler',
  runtime: 'nodejs22.x',
});

let aws: AwsClients;
beforeAll(async () => {
  await ensureReconcilerRole(endpoint, spec.name);
  aws = clients(endpoint, REGION);
  await applyPlan(await planCluster(aws, spec, { reconcilerBundle: bundle('v1') }));
});
afterAll(async () => {
  await destroy(aws, spec);
  aws.destroy();
});

describe('updates and conflicts', () => {
  it('deploys the reconciler as the single writer: arm64, reserved concurrency 1, nodejs22.x', async () => {
    const fn = (await getFunction(aws, 'pt-upd-reconciler'))!;
    expect(fn.config.architecture).toBe('arm64');
    expect(fn.config.reservedConcurrency).toBe(1);
    expect(fn.config.runtime).toBe('nodejs22.x');
    expect(fn.config.timeoutSeconds).toBe(120);
  });

  it('uploads the reconciler code only when its hash changes', async () => {
    expect((await planCluster(aws, spec, { reconcilerBundle: bundle('v1') })).plan.changes).toEqual([]);
    const before = (await getFunction(aws, 'pt-upd-reconciler'))!.codeSha256;
    const state = await planCluster(aws, spec, { reconcilerBundle: bundle('v2') });
    expect(state.plan.changes.map((c) => [c.action, c.key, c.changes.map((f) => f.field)])).toEqual([
      ['update', 'fn/reconciler', ['codeSha256']],
    ]);
    await applyPlan(state);
    expect((await getFunction(aws, 'pt-upd-reconciler'))!.codeSha256).not.toBe(before);
    expect((await planCluster(aws, spec, { reconcilerBundle: bundle('v2') })).plan.changes).toEqual([]);
  });

  it('a target group with our name but without our tags is a conflict: apply refuses and leaves it', async () => {
    const vpc = (await findVpcs(aws, [tagFilter(CLUSTER_TAG, spec.name)]))[0]!;
    await aws.elbv2.send(
      new CreateTargetGroupCommand({ Name: 'pt-upd-svc-8080', Protocol: 'TCP', Port: 30880, VpcId: vpc.id }),
    );
    const next = changed(spec, (s) => {
      s.serviceEndpoint.ports.push({ port: 8080, nodePort: 30880, protocol: 'TCP' });
    });
    const state = await planCluster(aws, next, { reconcilerBundle: bundle('v2') });
    expect(state.plan.conflicts).toEqual([
      expect.stringMatching(
        /^target group pt-upd-svc-8080 \(arn:.*\) already exists without the tags tripod:cluster=pt-upd/,
      ),
    ]);
    await expect(applyPlan(state)).rejects.toThrow(/cannot apply: 1 conflict/);
    // and destroy leaves it alone too
    const gone = await planCluster(aws, spec, { destroy: true });
    expect(gone.plan.changes.map((c) => c.key)).not.toContain('tg/svc-8080');
  });

  it('a rename is destructive when the previous name is known; a shared CIDR alone is only a warning', async () => {
    const renamed = changed(spec, (s) => {
      s.name = 'pt-upd2';
    });
    const guess = await planCluster(aws, renamed);
    expect(guess.plan.destructive).toEqual([]);
    expect(guess.plan.warnings).toContainEqual(
      expect.stringMatching(
        /tripod cluster "pt-upd" already uses CIDR 10.42.0.0\/16 in sa-east-1: if pt-upd2 is "pt-upd" renamed/,
      ),
    );
    const known = await planCluster(aws, renamed, { previousName: 'pt-upd' });
    expect(known.plan.destructive).toEqual([
      expect.stringMatching(/renames the cluster from "pt-upd" to "pt-upd2"/),
    ]);
    await expect(applyPlan(known)).rejects.toThrow(/refusing destructive/);
  });

  it('a missing reconciler role is explained: deploy infra/tripod-cluster.yaml or name a function', async () => {
    const b = placeholderBundle();
    const role = 'arn:aws:iam::123456789012:role/pt-upd-no-such-role';
    const e = await createFunction(
      aws,
      {
        name: 'pt-upd-no-role',
        zip: b.zip,
        config: {
          roleArn: role,
          handler: b.handler,
          runtime: b.runtime,
          timeoutSeconds: 3,
          memoryMb: 128,
          environment: {},
          subnetIds: [],
          securityGroupIds: [],
          architecture: 'arm64',
          reservedConcurrency: 1,
          eventInvoke: undefined,
        },
        tags: {},
      },
      { timeoutMs: 10_000 },
    ).catch((x) => explainRole(x, role));
    expect((e as Error).message).toMatch(
      /execution role arn:aws:iam::123456789012:role\/pt-upd-no-such-role does not exist or Lambda cannot assume it: deploy infra\/tripod-cluster.yaml/,
    );
  });
});
