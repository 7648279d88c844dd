import { TerminateInstanceInAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { statusParameter } from '../../src/contract/protocol.js';
import type { Telemetry } from '../../src/lambdas/reconciler-handler.js';
import type { EtcdTestCluster } from '../support/etcd-cluster.js';
import type { LambdaCloud } from '../support/lambda-cloud.js';
import { scheduledEvent, stateChangeEvent } from '../support/lambda-events.js';
import { lambdaCloudOnRealEtcd, realReconcilerHandler } from '../support/masters-etcd.js';
import { until } from '../support/until.js';

const endpoint = inject('motoEndpoint');
const _pem = (x: string | Buffer) => (typeof x === 'string' ? x : x.toString('utf8'));

function telemetry() {
  const metrics = new Map<string, number>();
  const t: Telemetry = {
    info: () => {},
    warn: () => {},
    error: () => {},
    appendKeys: () => {},
    removeKeys: () => {},
    metric: (name, _unit, value) => metrics.set(name, value),
    flushMetrics: () => {},
  };
  return { t, metrics };
}

describe('reconciler handler against moto and real etcd', () => {
  let cloud: LambdaCloud;
  let cluster: EtcdTestCluster;
  let ips: Map<string, string>;

  beforeAll(async () => {
    ({ cloud, cluster, ips } = await lambdaCloudOnRealEtcd(endpoint, 'le', 'ca-west-1'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const handlerWith = () => {
    const { t, metrics } = telemetry();
    const handler = realReconcilerHandler(cloud, t);
    return { handler, metrics };
  };

  it('reads etcd over mTLS with the certificate from SSM and publishes the cluster status', async () => {
    const { handler, metrics } = handlerWith();
    const r = await handler(scheduledEvent());
    expect(r).toMatchObject({ status: 'reconciled', cluster: cloud.config.cluster });
    expect(metrics.get('HealthyVoters')).toBe(3);
    expect(metrics.get('QuorumMargin')).toBe(1);
    const status = await cloud.aws.ssm.send(
      new GetParameterCommand({ Name: statusParameter(cloud.config.cluster) }),
    );
    const doc = status.Parameter!.Value!;
    for (const id of cloud.masters) expect(doc).toContain(id);
  });

  it('a terminated master: its member is removed once; the same event again changes nothing', async () => {
    const victim = cloud.masters[2]!;
    await cluster.kill(victim);
    await cloud.aws.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({
        InstanceId: victim,
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const event = stateChangeEvent(victim, 'terminated');
    const { handler, metrics } = handlerWith();
    const actions: string[] = [];
    const statuses: string[] = [];
    const survivors = cloud.masters.slice(0, 2).sort();
    const memberNames = async () =>
      (await cluster.client.listMembers(`https://${ips.get(cloud.masters[0]!)}:2379`).catch(() => []))
        .map((m) => m.name)
        .sort();
    // The pass may first move leadership off the victim, or wait while the survivors elect a new
    // leader (the victim may have led etcd): passes run until the member is gone, within a deadline.
    await until(
      async () => {
        const r = await handler(event);
        statuses.push(r.status === 'reconciled' ? `reconciled: ${r.actions.join(', ') || '-'}` : r.status);
        if (r.status === 'reconciled') actions.push(...r.actions);
      },
      async () =>
        actions.some((a) => a.startsWith('remove-member')) &&
        JSON.stringify(await memberNames()) === JSON.stringify(survivors),
      {
        deadlineMs: 45_000,
        pauseMs: 500,
        what: 'the terminated master removed from etcd',
        describe: () => statuses.join('\n'),
      },
    );
    expect(statuses.every((s) => s.startsWith('reconciled'))).toBe(true);
    expect(actions.filter((a) => a.startsWith('remove-member'))).toHaveLength(1);
    expect(await memberNames()).toEqual(survivors);

    const again = await handler(event);
    expect(again.status).toBe('reconciled');
    if (again.status === 'reconciled') {
      expect(again.actions.filter((a) => /member|learner|leader/.test(a))).toEqual([]);
    }
    expect(metrics.get('HealthyVoters')).toBe(2);
  });
});
