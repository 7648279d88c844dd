/**
 * End to end: the bundled action (`node <bundle>/action/index.js`) run as a GitHub runner runs it:
 * INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_EVENT_PATH with a real-shaped
 * pull_request payload; AWS is the shared moto server, GitHub's REST API a local stand-in.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateTargetGroupCommand,
  ElasticLoadBalancingV2Client,
  RegisterTargetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { commentMarker } from '../../src/action/comment.js';
import { NO_CREDENTIALS } from '../../src/action/errors.js';
import { runChild } from '../support/child.js';
import { type FakeGitHubApi, startFakeGitHubApi } from '../support/github-api.js';
import { ensureReconcilerRole } from '../support/provision-support.js';
import { minimalSpec } from '../support/spec-text.js';

const TOKEN = 'ghs_e2eTestToken123';
const REPO = 'acme/infra';
let bundle: string;
let work: string;
let api: FakeGitHubApi;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tripod-action-e2e-'));
  bundle = join(work, 'dist');
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/build.mjs', bundle], { stdio: 'inherit' });
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build failed: ${code}`))));
  });
  api = await startFakeGitHubApi({ token: TOKEN });
  await ensureReconcilerRole(
    inject('motoEndpoint'),
    ...[
      'nocreds',
      'nodestroy',
      'other',
      'badspec',
      'badinput',
      'region',
      'nocluster',
      'status',
      'upgrade',
      'secret',
      'flow',
      'timeout',
    ].map((n) => `e2e-${n}`),
  );
});

afterAll(async () => {
  await api?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Each cluster gets its own CIDR: tripod flags a second cluster on the same CIDR as a possible rename. */
const cidrs = new Map<string, string>();
const cidrOf = (name: string) => {
  if (!cidrs.has(name)) cidrs.set(name, `10.${40 + cidrs.size}.0.0/16`);
  return cidrs.get(name)!;
};

function specYaml(name: string, extra = ''): string {
  return minimalSpec({ name, region: 'il-central-1', cidr: cidrOf(name) }) + extra;
}

/** A pull_request "synchronize" payload shaped like GitHub's (the fields tripod and common tools read). */
function pullRequestEvent(number: number, headSha: string) {
  return {
    action: 'synchronize',
    number,
    pull_request: {
      number,
      state: 'open',
      title: 'Grow the cluster',
      head: { ref: 'grow', sha: headSha, repo: { full_name: REPO } },
      base: { ref: 'main', sha: '0'.repeat(40), repo: { full_name: REPO } },
      html_url: `https://github.com/${REPO}/pull/${number}`,
      user: { login: 'octocat' },
    },
    repository: { full_name: REPO, name: 'infra', owner: { login: 'acme' } },
    sender: { login: 'octocat' },
  };
}

function pushEvent(sha: string) {
  return {
    ref: 'refs/heads/main',
    after: sha,
    repository: { full_name: REPO, name: 'infra', owner: { login: 'acme' } },
    head_commit: { id: sha, message: 'apply' },
  };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/**
 * A cluster's master group as moto holds it after an apply: three subnets, a launch template, the
 * group (moto starts every instance in the first subnet: no AZ spread), the API target group with the
 * masters registered, the reconciler config, and the reconciler's status document.
 */
async function seedMasters(cluster: string, statusDoc: (instanceIds: string[]) => unknown) {
  const endpoint = inject('motoEndpoint');
  const opts = {
    region: 'il-central-1',
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  };
  const ec2 = new EC2Client(opts);
  const asg = new AutoScalingClient(opts);
  const elb = new ElasticLoadBalancingV2Client(opts);
  const ssm = new SSMClient(opts);
  try {
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }))).Vpc!.VpcId!;
    const subnets: string[] = [];
    for (const [i, z] of ['il-central-1a', 'il-central-1b', 'il-central-1c'].entries()) {
      const sn = await ec2.send(
        new CreateSubnetCommand({ VpcId: vpc, AvailabilityZone: z, CidrBlock: `10.77.${i}.0/24` }),
      );
      subnets.push(sn.Subnet!.SubnetId!);
    }
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: `${cluster}-masters`,
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 't3.micro' },
      }),
    );
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: `${cluster}-masters`,
        MinSize: 3,
        MaxSize: 3,
        DesiredCapacity: 3,
        VPCZoneIdentifier: subnets.join(','),
        LaunchTemplate: { LaunchTemplateId: lt.LaunchTemplate!.LaunchTemplateId!, Version: '$Default' },
      }),
    );
    const group = await asg.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [`${cluster}-masters`] }),
    );
    const ids = (group.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId!).sort();
    const tg = await elb.send(
      new CreateTargetGroupCommand({
        Name: `${cluster}-api`,
        Protocol: 'TCP',
        Port: 6443,
        VpcId: vpc,
        TargetType: 'instance',
      }),
    );
    const tgArn = tg.TargetGroups![0]!.TargetGroupArn!;
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: tgArn, Targets: ids.map((Id) => ({ Id })) }));
    await ssm.send(
      new PutParameterCommand({
        Name: `/tripod/${cluster}/config`,
        Type: 'String',
        Value: JSON.stringify({ cluster, apiTargetGroupArn: tgArn }),
      }),
    );
    await ssm.send(
      new PutParameterCommand({
        Name: `/tripod/${cluster}/status`,
        Type: 'String',
        Value: JSON.stringify(statusDoc(ids)),
      }),
    );
    return ids;
  } finally {
    for (const c of [ec2, asg, elb, ssm]) c.destroy();
  }
}

/** GITHUB_OUTPUT's `name<<delimiter ... delimiter` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

let seq = 0;
async function runAction(opts: {
  inputs: Record<string, string>;
  spec?: string;
  eventName?: string;
  event?: unknown;
  aws?: 'moto' | 'none';
}): Promise<RunResult> {
  const dir = mkdtempSync(join(work, `run-${seq++}-`));
  if (opts.spec !== undefined) writeFileSync(join(dir, 'cluster.yaml'), opts.spec);
  const eventPath = join(dir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(opts.event ?? {}));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary.md');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: dir,
    GITHUB_EVENT_NAME: opts.eventName ?? 'pull_request',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: REPO,
    GITHUB_API_URL: api.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_SHA: 'c0ffee0000000000000000000000000000000000',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    // Never reach for instance metadata or a developer's own AWS files.
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    'INPUT_GITHUB-TOKEN': TOKEN,
  };
  if ((opts.aws ?? 'moto') === 'moto') {
    env.AWS_ENDPOINT_URL = inject('motoEndpoint');
    env.AWS_ACCESS_KEY_ID = 'testing';
    env.AWS_SECRET_ACCESS_KEY = 'testing';
    env.TRIPOD_AWS_MAX_ATTEMPTS = '1';
  }
  for (const [k, v] of Object.entries(opts.inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;

  const { code, stdout, stderr } = await runChild(process.execPath, [join(bundle, 'action', 'index.js')], {
    cwd: dir,
    env,
  });
  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
  };
}

/** The ::error:: line's message, newlines decoded. */
const failure = (r: RunResult) =>
  (/^::error::(.*)$/m.exec(r.stdout)?.[1] ?? '')
    .replace(/%0A/g, '\n')
    .replace(/%0D/g, '\r')
    .replace(/%25/g, '%');

describe('the bundled action, run as a runner runs it', () => {
  it('without AWS credentials says exactly that and how to fix it (OIDC)', async () => {
    const r = await runAction({ inputs: { command: 'plan' }, spec: specYaml('e2e-nocreds'), aws: 'none' });
    expect(r.code).toBe(1);
    const msg = failure(r);
    expect(msg.startsWith(`${NO_CREDENTIALS} tripod uses only the default AWS credential chain`)).toBe(true);
    expect(msg).toContain('uses: aws-actions/configure-aws-credentials@v4');
    expect(msg).toContain('aws-region: il-central-1');
    expect(msg).toContain('id-token: write');
    expect(msg).toContain('This job has no OIDC token right now: its permissions lack `id-token: write`.');
    expect(r.stdout).not.toContain('    at '); // no stack trace
    expect(r.summary).toContain(`## tripod plan failed\n\n\`\`\`text\n${NO_CREDENTIALS}`);
    expect(r.outputs['cluster-name']).toBe('e2e-nocreds');
  });

  it('destroy without confirmation is refused and changes nothing', async () => {
    const r = await runAction({
      inputs: { command: 'destroy' },
      spec: specYaml('e2e-nodestroy'),
      eventName: 'workflow_dispatch',
    });
    expect(r.code).toBe(1);
    expect(failure(r)).toBe(
      'destroy refused: set confirm-destroy to the cluster name "e2e-nodestroy" to delete it (it is empty). Nothing was changed.',
    );
    const wrong = await runAction({
      inputs: { command: 'destroy', 'confirm-destroy': 'e2e-other' },
      spec: specYaml('e2e-nodestroy'),
      eventName: 'workflow_dispatch',
    });
    expect(failure(wrong)).toContain('(got "e2e-other")');
  });

  it('a bad spec is annotated at file:line:col, every problem at once', async () => {
    const r = await runAction({
      inputs: { command: 'plan' },
      spec: specYaml('e2e-badspec', 'masters:\n  count: 4\nnetwrok: {}\n'),
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error file=cluster.yaml,line=10,col=10::masters.count: must be odd/);
    expect(r.stdout).toMatch(/::error file=cluster.yaml,line=11,col=1::netwrok: unknown field "netwrok"/);
    expect(failure(r)).toContain('cluster.yaml is not a valid cluster spec (2 problems)');
  });

  it('bad inputs are named', async () => {
    const r = await runAction({
      inputs: { command: 'deploy', 'timeout-minutes': 'never' },
      spec: specYaml('e2e-badinput'),
    });
    expect(r.code).toBe(1);
    expect(failure(r)).toContain(
      'command: must be one of plan, apply, status, upgrade, destroy (got "deploy")',
    );
    expect(failure(r)).toContain('timeout-minutes: must be a number of minutes');
  });

  it('a region input that contradicts the spec is an error, not an override', async () => {
    const r = await runAction({ inputs: { 'aws-region': 'us-east-1' }, spec: specYaml('e2e-region') });
    expect(r.code).toBe(1);
    expect(failure(r)).toContain('aws-region is us-east-1 but cluster.yaml says region: il-central-1');
  });

  it('status of a cluster that does not exist says so', async () => {
    const r = await runAction({
      inputs: { command: 'status' },
      spec: specYaml('e2e-nocluster'),
      eventName: 'schedule',
    });
    expect(r.code).toBe(1);
    expect(failure(r)).toBe(
      'cluster e2e-nocluster not found in il-central-1: there is no Auto Scaling group e2e-nocluster-masters. Run command apply first.',
    );
  });

  it('status reports members, targets and the last reconcile, and fails when zone-loss survival is lost', async () => {
    const cluster = 'e2e-status';
    const ids = await seedMasters(cluster, (ids) => ({
      version: 1,
      cluster,
      at: '2026-01-01T00:00:00.000Z',
      conditions: { converged: true },
      members: ids.map((id, i) => ({
        id: String(1000 + i),
        name: id,
        healthy: true,
        ...(i === 0 ? { leader: true } : {}),
      })),
      zones: {},
      targets: [],
      waits: [],
      lastActions: [],
      memory: { unhealthySince: {} },
    }));
    const r = await runAction({
      inputs: { command: 'status' },
      spec: specYaml(cluster),
      eventName: 'schedule',
    });
    // moto starts every instance of a group in its first subnet: all three masters sit in il-central-1a.
    expect(failure(r)).toBe(
      `${cluster}: zone-loss survival is LOST: losing il-central-1a would leave 0 healthy voters, below quorum 2`,
    );
    expect(r.code).toBe(1);
    expect(r.summary).toContain(`## tripod status: \`${cluster}\` in il-central-1`);
    expect(r.summary).toContain('| il-central-1a | 3 | 3 | **NO** |');
    expect(r.summary).toContain(`| 1000 | ${ids[0]} | voter, leader | yes |`);
    expect(r.summary).toContain(`| ${ids[1]} | il-central-1a | InService | Healthy | healthy |`);
    expect(r.summary).toContain('2026-01-01T00:00:00.000Z: **converged**');
  });

  it('upgrade applies the spec, then fails with the reason when the instance refresh API is missing', async () => {
    const r = await runAction({
      inputs: { command: 'upgrade', 'timeout-minutes': '5' },
      spec: specYaml('e2e-upgrade'),
      eventName: 'workflow_dispatch',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::group::network$/m);
    expect(r.stdout).toMatch(/^::group::Upgrade e2e-upgrade to Kubernetes 1\.32\.4$/m);
    // moto has no instance refresh (aws-behaviour.md): the action says so instead of a parse error.
    expect(failure(r)).toBe(
      'upgrade failed: the endpoint does not implement autoscaling:DescribeInstanceRefreshes (it answered HTTP 500 with an HTML page); an emulator such as moto lacks this call',
    );
  });

  it('the github token never appears in the log or the summary', async () => {
    const r = await runAction({ inputs: { command: 'destroy' }, spec: specYaml('e2e-secret') });
    expect(r.stdout).toContain(`::add-mask::${TOKEN}`);
    expect(r.stdout.replace(`::add-mask::${TOKEN}`, '')).not.toContain(TOKEN);
    expect(r.summary).not.toContain(TOKEN);
  });
});

describe('plan on a pull request, apply on main', () => {
  const cluster = 'e2e-flow';
  const spec = specYaml(cluster);

  it('plan on a pull request: summary, outputs, ONE comment created then edited in place', async () => {
    const first = await runAction({
      inputs: { command: 'plan' },
      spec,
      eventName: 'pull_request',
      event: pullRequestEvent(17, 'a'.repeat(40)),
    });
    expect(failure(first)).toBe('');
    expect(first.code).toBe(0);
    expect(first.outputs['cluster-name']).toBe(cluster);
    expect(first.outputs['has-changes']).toBe('true');
    const count = Number(first.outputs['changes-count']);
    expect(count).toBeGreaterThan(10);
    expect(JSON.parse(first.outputs['plan-json']!)).toBeTypeOf('object');
    expect(first.summary).toContain(`## tripod plan: \`${cluster}\` in il-central-1`);
    expect(first.summary).toContain(`**${count} changes** to make AWS match the spec.`);
    expect(first.summary).toContain('| il-central-1b | 1 | 2 | yes |');
    expect(first.summary).toContain('```mermaid\nflowchart TB');
    expect(first.summary).toContain('keeps etcd quorum (2 of 3) when any one of its 3 zones is lost');
    expect(first.summary).toMatch(/```diff\n# network\n\+ VPC .*\n\+ /);
    expect(first.summary).toContain('at `aaaaaaa`');

    const marker = commentMarker(cluster);
    const ours = () => api.comments.filter((c) => c.issue === 17 && c.body.includes(marker));
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body.startsWith(marker)).toBe(true);
    expect(ours()[0]!.body).toContain(`**${count} changes**`);
    expect(ours()[0]!.body).not.toContain(TOKEN);
    const writes = () => api.calls.filter((c) => c.method !== 'GET' && c.path.includes('/comments'));
    expect(writes().map((c) => c.method)).toEqual(['POST']);

    const second = await runAction({
      inputs: { command: 'plan' },
      spec,
      eventName: 'pull_request',
      event: pullRequestEvent(17, 'b'.repeat(40)),
    });
    expect(second.code).toBe(0);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('at `bbbbbbb`');
    expect(writes().map((c) => c.method)).toEqual(['POST', 'PATCH']);
    expect(writes()[1]!.path).toBe(`/repos/${REPO}/issues/comments/${ours()[0]!.id}`);

    const callsBefore = api.calls.length;
    const optedOut = await runAction({
      inputs: { command: 'plan', 'comment-on-pr': 'false' },
      spec,
      eventName: 'pull_request',
      event: pullRequestEvent(17, 'e'.repeat(40)),
    });
    expect(optedOut.code).toBe(0);
    expect(api.calls.length).toBe(callsBefore);
    expect(ours()[0]!.body).toContain('at `bbbbbbb`');
  });

  it('apply on a push to main, then plan shows no changes (and comments nothing off a pull request)', async () => {
    const apply = await runAction({
      inputs: { command: 'apply', 'timeout-minutes': '10' },
      spec,
      eventName: 'push',
      event: pushEvent('c'.repeat(40)),
    });
    expect(failure(apply)).toBe('');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/^::group::/m);
    expect(apply.stdout).toMatch(/^::endgroup::/m);
    expect(apply.outputs['has-changes']).toBe('true');
    expect(apply.outputs['api-endpoint']).toMatch(/\S/);
    expect(apply.summary).toContain(`## tripod apply (done): \`${cluster}\``);

    const callsBefore = api.calls.length;
    const plan = await runAction({
      inputs: { command: 'plan' },
      spec,
      eventName: 'push',
      event: pushEvent('c'.repeat(40)),
    });
    expect(failure(plan)).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.outputs['has-changes']).toBe('false');
    expect(plan.outputs['changes-count']).toBe('0');
    expect(plan.summary).toContain('**No changes.** AWS already matches the spec.');
    expect(plan.stdout).toMatch(/^AWS API calls: \d+$/m);
    expect(api.calls.length).toBe(callsBefore);
  });

  it('destroy with the cluster name typed again deletes everything; a plan then creates it all again', async () => {
    const r = await runAction({
      inputs: { command: 'destroy', 'confirm-destroy': cluster, 'timeout-minutes': '10' },
      spec,
      eventName: 'workflow_dispatch',
    });
    expect(failure(r)).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^::group::instances$/m);
    expect(r.summary).toContain(`## tripod destroy: \`${cluster}\` in il-central-1`);
    const plan = await runAction({ inputs: { command: 'plan' }, spec, eventName: 'schedule' });
    expect(plan.outputs['has-changes']).toBe('true');
  });

  it('apply bounded by timeout-minutes fails naming the step it was at', async () => {
    const r = await runAction({
      inputs: { command: 'apply', 'timeout-minutes': '0.001' },
      spec: specYaml('e2e-timeout'),
      eventName: 'push',
      event: pushEvent('d'.repeat(40)),
    });
    expect(r.code).toBe(1);
    expect(failure(r)).toMatch(
      /^apply did not finish within timeout-minutes \(0\.001\); it was at: network: (creat|wait)\w* .+\. Nothing is rolled back: run it again to continue, or raise timeout-minutes\.$/,
    );
  });
});
