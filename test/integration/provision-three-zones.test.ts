/**
 * Contract test against moto: examples/three-zones.yaml (tripod makes the VPC) applied to an empty
 * region, planned again (no changes), changed, applied, refused when destructive, destroyed.
 */
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { describeHooks } from '../../src/adapters/aws/autoscaling.js';
import { findBackupBucket } from '../../src/adapters/aws/backup-bucket.js';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { findLaunchTemplates, getLaunchTemplateVersion, tagFilter } from '../../src/adapters/aws/ec2.js';
import { listRules, listTargets } from '../../src/adapters/aws/eventbridge.js';
import { getParameter } from '../../src/adapters/aws/ssm.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { CLUSTER_TAG, configParameter } from '../../src/contract/protocol.js';
import type { ReconcilerConfig } from '../../src/heal/config.js';
import { applyPlan, destroy, ProvisionError } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { renderPlanMarkdown, renderPlanText } from '../../src/provision/plan-render.js';
import { changed, clients, ensureReconcilerRole, threeZoneSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'eu-west-3';
const spec = threeZoneSpec('pt-three', REGION);

let aws: AwsClients;
const keysOf = (changes: Array<{ action: string; key: string }>) =>
  changes.map((c) => `${c.action} ${c.key}`).sort();

beforeAll(async () => {
  await ensureReconcilerRole(endpoint, spec.name);
  aws = clients(endpoint, REGION);
});
afterAll(() => aws?.destroy());

describe('three zones, own VPC', () => {
  it('plans every resource of a new cluster, with the topology warnings and nothing destructive', async () => {
    const { plan } = await planCluster(aws, spec);
    expect(plan.hasChanges).toBe(true);
    expect(plan.summary).toEqual({ create: plan.changes.length, update: 0, replace: 0, delete: 0 });
    const keys = plan.changes.map((c) => c.key);
    for (const k of [
      'vpc',
      'igw',
      `subnet/public/${REGION}a`,
      `subnet/private/${REGION}c`,
      `nat/${REGION}a`,
      `nat/${REGION}b`,
      `nat/${REGION}c`,
      'rtb/public',
      `rtb/private/${REGION}b`,
      'sg/masters',
      'sg-rules/masters',
      'lt/masters',
      'lt/workers',
      'lb/api',
      'tg/api',
      'listener/api-6443',
      'lb/svc',
      'tg/svc-80',
      'listener/svc-443',
      'asg/masters',
      'asg/workers',
      'param/config',
      'backup-bucket',
      'fn/reconciler',
      'rule/lifecycle',
      'rule/instance-state',
      'rule/node-ready',
      'rule/schedule',
    ]) {
      expect(keys).toContain(k);
    }
    // dependency order: the VPC before subnets before groups before the rules that target the function
    expect(keys.indexOf('vpc')).toBeLessThan(keys.indexOf(`subnet/private/${REGION}a`));
    expect(keys.indexOf('tg/api')).toBeLessThan(keys.indexOf('asg/masters'));
    expect(keys.indexOf('fn/reconciler')).toBeLessThan(keys.indexOf('rule/schedule'));
    // first bring-up: configuration, reconciler and its rules exist before any master launches
    for (const first of ['param/config', 'fn/reconciler', 'rule/lifecycle', 'rule/schedule'])
      for (const group of ['asg/masters', 'asg/workers'])
        expect(keys.indexOf(first), `${first} before ${group}`).toBeLessThan(keys.indexOf(group));
    expect(plan.destructive).toEqual([]);
    expect(plan.conflicts).toEqual([]);
    expect(renderPlanText(plan)).toMatch(
      /^Plan for cluster pt-three \(eu-west-3\): \d+ to create, 0 to update/,
    );
    expect(renderPlanMarkdown(plan)).toContain('```diff');
  });

  it('applies, then plans no changes', async () => {
    const progress: string[] = [];
    const state = await planCluster(aws, spec);
    await applyPlan(state, { onProgress: (e) => progress.push(`${e.group}: ${e.message}`) });
    expect(progress).toContain('network: creating VPC 10.40.0.0/16');
    expect(progress.some((p) => p.startsWith('instances: created master group'))).toBe(true);

    const again = await planCluster(aws, spec);
    expect(again.plan.changes).toEqual([]);
    expect(again.plan.hasChanges).toBe(false);
    expect(renderPlanText(again.plan)).toMatch(/^No changes: cluster pt-three/);
  });

  it('made what the spec asks for: tags, hooks, target groups, config with real ARNs, rule targets', async () => {
    const vpcs = await aws.ec2.send(
      new DescribeVpcsCommand({ Filters: [tagFilter(CLUSTER_TAG, spec.name)] }),
    );
    expect(vpcs.Vpcs).toHaveLength(1);
    const vpcTags = Object.fromEntries((vpcs.Vpcs![0]!.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(vpcTags).toMatchObject({
      'tripod:cluster': 'pt-three',
      'tripod:managed-by': 'tripod',
      team: 'platform',
    });

    const groups = await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['pt-three-masters'] }),
    );
    const masters = groups.AutoScalingGroups![0]!;
    expect([masters.MinSize, masters.MaxSize, masters.DesiredCapacity]).toEqual([3, 3, 3]);
    expect(masters.VPCZoneIdentifier!.split(',')).toHaveLength(3);
    expect(masters.TargetGroupARNs).toHaveLength(1);
    const hooks = await describeHooks(aws, 'pt-three-masters');
    expect(hooks.map((h) => [h.name, h.heartbeatTimeout, h.defaultResult]).sort()).toEqual([
      ['tripod-master-launching', 600, 'ABANDON'],
      ['tripod-master-terminating', 600, 'CONTINUE'],
    ]);
    // the workers' hooks: worker.sh drains in Terminating:Wait, the reconciler settles both
    const workerHooks = await describeHooks(aws, 'pt-three-workers');
    expect(
      workerHooks.map((h) => [h.name, h.transition, h.heartbeatTimeout, h.defaultResult]).sort(),
    ).toEqual([
      ['tripod-worker-launching', 'autoscaling:EC2_INSTANCE_LAUNCHING', 600, 'CONTINUE'],
      ['tripod-worker-terminating', 'autoscaling:EC2_INSTANCE_TERMINATING', 600, 'CONTINUE'],
    ]);

    const lbs = await aws.elbv2.send(new DescribeLoadBalancersCommand({ Names: ['pt-three-api'] }));
    expect(lbs.LoadBalancers![0]!.Scheme).toBe('internet-facing');

    const config = JSON.parse(
      (await getParameter(aws, configParameter(spec.name)))!.value,
    ) as ReconcilerConfig;
    expect(config.apiTargetGroupArn).toBe(masters.TargetGroupARNs![0]);
    // the masters put the API load balancer's own name in the API server certificate (master.sh)
    expect(config.apiLoadBalancerDnsName).toBe(lbs.LoadBalancers![0]!.DNSName);
    expect(config.serviceTargetGroupArns).toHaveLength(2);
    expect(config.expectedMasters).toBe(3);
    // the backup bucket: named after the account (moto's 123456789012), made versioned, recorded
    expect(config.backupBucket).toBe('tripod-pt-three-123456789012-eu-west-3-backups');
    const bucket = await findBackupBucket(aws.s3, config.backupBucket!);
    expect(bucket?.versioning).toBe('Enabled');
    expect(bucket?.tags).toMatchObject({ 'tripod:cluster': 'pt-three', 'tripod:managed-by': 'tripod' });

    const rules = await listRules(aws, 'pt-three-');
    expect(rules.map((r) => r.name).sort()).toEqual([
      'pt-three-instance-state',
      'pt-three-lifecycle',
      'pt-three-node-ready',
      'pt-three-schedule',
    ]);
    const targets = await listTargets(aws, 'pt-three-schedule');
    expect(targets[0]!.arn).toMatch(/:function:pt-three-reconciler$/);
  });

  it('a changed spec plans exactly those updates, applies them, then plans no changes', async () => {
    const next = changed(spec, (s) => {
      s.masters.instanceType = 'm6i.xlarge';
      s.workers.min = 4;
      s.workers.max = 10;
      s.serviceEndpoint.ports.push({ port: 8080, nodePort: 30880, protocol: 'TCP' });
    });
    const state = await planCluster(aws, next);
    expect(keysOf(state.plan.changes)).toEqual(
      [
        'create listener/svc-8080',
        'create tg/svc-8080',
        'update asg/workers',
        'update lt/masters',
        'update param/config',
        'update sg-rules/lb',
        'update sg-rules/workers',
      ].sort(),
    );
    const byKey = new Map(state.plan.changes.map((c) => [c.key, c]));
    expect(byKey.get('lt/masters')!.changes).toEqual([
      { field: 'instanceType', before: 'm6i.large', after: 'm6i.xlarge' },
    ]);
    const workers = byKey.get('asg/workers')!.changes;
    expect(workers.filter((c) => c.field !== 'targetGroups')).toEqual([
      { field: 'min', before: 3, after: 4 },
      { field: 'max', before: 9, after: 10 },
    ]);
    expect(workers.find((c) => c.field === 'targetGroups')!.after).toContain('(known after apply)');
    expect(byKey.get('sg-rules/workers')!.changes).toEqual([
      { field: 'ingress', before: undefined, after: expect.stringMatching(/^tcp 30880 from sg-/) },
    ]);
    expect(state.plan.destructive).toEqual([]);

    await applyPlan(state);
    expect((await planCluster(aws, next)).plan.changes).toEqual([]);

    const [lt] = (await findLaunchTemplates(aws, [tagFilter(CLUSTER_TAG, spec.name)])).filter(
      (t) => t.name === 'pt-three-masters',
    );
    expect(lt!.defaultVersion).toBe(2);
    expect((await getLaunchTemplateVersion(aws, lt!.id, 2))!.instanceType).toBe('m6i.xlarge');

    // and back: the port's listener and target group are deleted after the group lets go of them
    const back = await planCluster(aws, spec);
    const order = back.plan.changes.map((c) => `${c.action} ${c.key}`);
    expect(order).toContain('delete tg/svc-8080');
    expect(order.indexOf('update asg/workers')).toBeLessThan(order.indexOf('delete tg/svc-8080'));
    expect(order.indexOf('delete listener/svc-8080')).toBeLessThan(order.indexOf('delete tg/svc-8080'));
    await applyPlan(back);
    expect((await planCluster(aws, spec)).plan.changes).toEqual([]);
  });

  it('refuses destructive changes without allowDestructive: shrinking masters, dropping a zone with masters', async () => {
    const shrink = changed(spec, (s) => {
      s.masters.count = 1;
    });
    const state = await planCluster(aws, shrink);
    expect(state.plan.destructive).toEqual([expect.stringMatching(/shrinks the masters from 3 to 1/)]);
    await expect(applyPlan(state)).rejects.toThrow(ProvisionError);
    await expect(applyPlan(state)).rejects.toThrow(/--allow-destructive/);

    // moto starts every master in the first subnet: dropping that zone would take all three at once
    const dropZone = changed(spec, (s: ClusterSpec) => {
      s.network.zones = [`${REGION}b`, `${REGION}c`];
    });
    const dropped = await planCluster(aws, dropZone);
    expect(dropped.plan.destructive.join('\n')).toMatch(/drops zone\(s\) eu-west-3a holding 3 of 3 masters/);
    await expect(applyPlan(dropped)).rejects.toThrow(/refusing destructive/);
    // nothing was touched
    expect((await planCluster(aws, spec)).plan.changes).toEqual([]);
  });

  it('destroy removes everything carrying the cluster tags', async () => {
    const progress: string[] = [];
    await destroy(aws, spec, { onProgress: (e) => progress.push(e.message) });
    expect(progress.filter((p) => p.startsWith('deleted')).at(-1)).toMatch(/deleted VPC/);
    const after = await planCluster(aws, spec, { destroy: true });
    expect(after.plan.changes).toEqual([]);
    const vpcs = await aws.ec2.send(
      new DescribeVpcsCommand({ Filters: [tagFilter(CLUSTER_TAG, spec.name)] }),
    );
    expect(vpcs.Vpcs).toEqual([]);
    const groups = await aws.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({
        AutoScalingGroupNames: ['pt-three-masters', 'pt-three-workers'],
      }),
    );
    expect(groups.AutoScalingGroups).toEqual([]);
    expect(await getParameter(aws, configParameter(spec.name))).toBeUndefined();
    expect(await listRules(aws, 'pt-three-')).toEqual([]);
    // the backup bucket holds the only copy of the etcd data once the cluster is gone: kept
    expect(progress.join('\n')).toMatch(
      /keeping backup bucket tripod-pt-three-123456789012-eu-west-3-backups/,
    );
    expect(await findBackupBucket(aws.s3, 'tripod-pt-three-123456789012-eu-west-3-backups')).toBeDefined();
  });
});
