/**
 * The IAM contract (test/support/iam.ts): every AWS call tripod makes in these runs is evaluated
 * against the roles of infra/tripod-setup.yaml by a real IAM policy evaluator, with what AWS checks
 * implicitly. A denied call fails, naming the call, the role and what is missing.
 *  - deploy: the provisioner against moto: apply from empty, a no-op plan, an update that adds a tag,
 *    destroy (the GitHub Action's and the CLI's calls).
 *  - reconciler: reconciler passes in the simulator while a cluster forms.
 *  - node / worker: the node scripts' `aws` calls in the bats tests.
 * Then: removing any statement the system needs makes the contract report a denied call.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AwsClients, createAwsClients } from '../src/adapters/aws/clients.js';
import { reconcilePass } from '../src/heal/reconcile.js';
import { workerDrainedParameter } from '../src/lambdas/worker-hooks.js';
import { applyPlan, destroy } from '../src/provision/apply.js';
import { planCluster } from '../src/provision/plan.js';
import { zipSync } from '../src/provision/zip.js';
import { SimCloud } from '../src/sim/cloud.js';
import { ReconcilerLambda } from '../src/sim/lambda.js';
import { zoneNames } from '../src/sim/run.js';
import { changed, credentials, ensureReconcilerRole, exampleSpec } from './provision-support.js';
import {
  awsWorld,
  type Cfn,
  cliCalls,
  clusterWorld,
  denials,
  IamRecorder,
  loadTemplate,
  type RecordedCall,
  type ResolvedTemplate,
  resolveRoles,
} from './support/iam.js';

const endpoint = inject('motoEndpoint');
const REGION = 'us-east-2';
const CLUSTER = 'iam-ct';
const spec = exampleSpec('examples/three-zones.yaml', [
  ['name: demo-eu', `name: ${CLUSTER}`],
  ['region: eu-west-1', `region: ${REGION}`],
  ['cidr: 10.40.0.0/16', 'cidr: 10.47.0.0/16'],
  [/eu-west-1([abc])/g, `${REGION}$1`],
]);
const bundle = {
  zip: zipSync({ 'index.mjs': "export const handler = async () => 'iam';\n" }),
  handler: 'index.handler',
  runtime: 'nodejs22.x',
};

const template = resolveRoles(loadTemplate(), REGION);
const calls: RecordedCall[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'tripod-iam-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function expectAllowed(t: ResolvedTemplate, recorded: RecordedCall[]) {
  const denied = await denials(t, recorded);
  if (denied.length > 0) throw new Error(`${denied.length} denied:\n${denied.join('\n')}`);
}

describe('deploy role: the provisioner against moto', () => {
  const recorder = new IamRecorder(REGION, template);
  let plain: AwsClients;
  let aws: AwsClients;
  beforeAll(async () => {
    await ensureReconcilerRole(endpoint);
    plain = createAwsClients({ region: REGION, endpoint, maxAttempts: 1, credentials });
    aws = createAwsClients({
      region: REGION,
      endpoint,
      maxAttempts: 1,
      credentials,
      around: recorder.around('deploy', awsWorld(plain)),
    });
  }, 120_000);
  afterAll(() => {
    calls.push(...recorder.calls);
    aws?.destroy();
    plain?.destroy();
  });

  it('apply from empty, a no-op plan, an update adding a tag, destroy: every call is allowed', async () => {
    await applyPlan(await planCluster(aws, spec, { reconcilerBundle: bundle }));
    const noop = await planCluster(aws, spec, { reconcilerBundle: bundle });
    expect(noop.plan.conflicts).toEqual([]);
    expect(noop.plan.changes).toEqual([]);
    const tagged = changed(spec, (s) => {
      s.tags = { ...s.tags, 'cost-center': 'k8s' };
    });
    const update = await planCluster(aws, tagged, { reconcilerBundle: bundle });
    expect(update.plan.conflicts).toEqual([]);
    await applyPlan(update);
    await destroy(aws, tagged);
    const ops = new Set(recorder.calls.map((c) => `${c.service}:${c.operation}`));
    for (const op of [
      'ec2:CreateTags',
      'lambda:GetFunction',
      'autoscaling:CreateAutoScalingGroup',
      'ec2:DeleteVpc',
    ])
      expect(ops, op).toContain(op);
    await expectAllowed(template, recorder.calls);
  }, 600_000);
});

describe('reconciler role: passes in the simulator', () => {
  it('every call of the reconciler while a cluster forms is allowed', async () => {
    const recorder = new IamRecorder('eu-west-1', resolveRoles(loadTemplate(), 'eu-west-1'));
    const cloud = new SimCloud({ seed: 7, cluster: 'sim', zones: zoneNames(3), masters: 3 });
    new ReconcilerLambda(cloud, (ports, config) =>
      reconcilePass(
        recorder.simPorts(
          ports,
          'reconciler',
          config.cluster,
          config.masterGroupName,
          'tripod-sim-123456789012-eu-west-1-backups',
        ),
        config,
      ),
    );
    await cloud.k.runUntil(cloud.k.now() + 30 * 60_000);
    expect(recorder.calls.map((c) => c.operation)).toContain('CompleteLifecycleAction');
    calls.push(...recorder.calls);
    await expectAllowed(recorder.template, recorder.calls);
  }, 120_000);
});

describe('node and worker roles: the node scripts (bats, aws stand-in)', () => {
  it.each([
    ['master.bats', 'node'],
    ['worker.bats', 'worker'],
  ])(
    '%s: every aws call is allowed for the %s role',
    (file, role) => {
      const log = join(tmp, `${file}.log`);
      const r = spawnSync('bats', ['--tap', join('test/bootstrap', file)], {
        encoding: 'utf8',
        env: { ...process.env, AWS_LOG: log },
      });
      if (r.error) throw new Error(`bats is not installed (bash scripts/setup.sh): ${r.error.message}`);
      const recorder = new IamRecorder('eu-west-1', resolveRoles(loadTemplate(), 'eu-west-1'));
      const cli = cliCalls(readFileSync(log, 'utf8'));
      expect(cli.length).toBeGreaterThan(3);
      return (async () => {
        for (const c of cli)
          await recorder.recordOffline(
            role,
            c,
            clusterWorld('t1', () => 't1-masters'),
          );
        calls.push(...recorder.calls);
        await expectAllowed(recorder.template, recorder.calls);
      })();
    },
    300_000,
  );
});

/**
 * Statements the system needs: without any one of them, a recorded call is denied. Each row names the
 * role, the statement (Sid) and a pattern of the denial the contract must then report.
 */
const NEEDED: Array<{ role: string; sid: string; denied: RegExp }> = [
  {
    role: 'ReconcilerRole',
    sid: 'LifecycleOfClusterGroups',
    denied: /^reconciler may not autoscaling:CompleteLifecycleAction/,
  },
  {
    role: 'ReconcilerRole',
    sid: 'TargetsOfClusterTargetGroups',
    denied: /^reconciler may not elasticloadbalancing:RegisterTargets/,
  },
  { role: 'DeployRole', sid: 'PassOnlyTripodRoles', denied: /^deploy may not iam:PassRole/ },
  { role: 'DeployRole', sid: 'ServiceLinkedRoles', denied: /^deploy may not iam:CreateServiceLinkedRole/ },
  { role: 'DeployRole', sid: 'ReadFunctionTags', denied: /^deploy may not lambda:ListTags/ },
  { role: 'DeployRole', sid: 'TagClusterResources', denied: /^deploy may not ec2:CreateTags on .*vpc\// },
  { role: 'DeployRole', sid: 'ChangeTaggedEc2', denied: /^deploy may not ec2:AuthorizeSecurityGroupIngress/ },
  {
    role: 'NodeRole',
    sid: 'ReadClusterParameters',
    denied: /^node may not ssm:GetParameter on .*\/tripod\/t1\//,
  },
  { role: 'NodeRole', sid: 'NodeEvents', denied: /^node may not events:PutEvents/ },
  {
    role: 'WorkerRole',
    sid: 'SignalDrained',
    denied: /^worker may not ssm:PutParameter on .*\/workers\/drained\//,
  },
  { role: 'WorkerRole', sid: 'ReadJoinDocument', denied: /^worker may not ssm:GetParameter/ },
];

describe('every needed statement is needed: without it the contract reports a denied call', () => {
  it.each(NEEDED)('$role without $sid', async ({ role, sid, denied }) => {
    expect(calls.length, 'the runs above recorded calls').toBeGreaterThan(0);
    const t: Cfn = loadTemplate();
    let removed = 0;
    for (const p of t.Resources[role].Properties.Policies) {
      const before = p.PolicyDocument.Statement.length;
      p.PolicyDocument.Statement = p.PolicyDocument.Statement.filter((s: { Sid?: string }) => s.Sid !== sid);
      removed += before - p.PolicyDocument.Statement.length;
    }
    expect(removed, `${role} has a statement ${sid}`).toBe(1);
    const byRegion = new Map<string, RecordedCall[]>();
    for (const c of calls) byRegion.set(c.region, [...(byRegion.get(c.region) ?? []), c]);
    const found: string[] = [];
    for (const [region, list] of byRegion) found.push(...(await denials(resolveRoles(t, region), list)));
    expect(
      found.filter((d) => denied.test(d)),
      found.join('\n'),
    ).not.toEqual([]);
  });
});

describe('the worker signals its drain where the reconciler reads it', () => {
  it('worker.sh writes workerDrainedParameter (src/lambdas/worker-hooks.ts) and the worker role allows it', async () => {
    const script = readFileSync('src/bootstrap/scripts/worker.sh', 'utf8');
    const written = script.match(/--name "(\/tripod\/\$TRIPOD_CLUSTER\/[^"]*\$INSTANCE_ID)"/)?.[1];
    expect(written?.replace('$TRIPOD_CLUSTER', 'c1').replace('$INSTANCE_ID', 'i-0abc')).toBe(
      workerDrainedParameter('c1', 'i-0abc'),
    );
    const recorder = new IamRecorder(REGION, template);
    await recorder.recordOffline(
      'worker',
      { service: 'ssm', operation: 'PutParameter', input: { Name: workerDrainedParameter('c1', 'i-0abc') } },
      clusterWorld('c1'),
    );
    await expectAllowed(template, recorder.calls);
  });
});
