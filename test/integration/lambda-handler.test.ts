import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createParameterPort } from '../../src/adapters/aws/heal-ports.js';
import { backupStatusParameter, configParameter, statusParameter } from '../../src/contract/protocol.js';
import { describeAction } from '../../src/heal/actions.js';
import type { ReconcilerConfig } from '../../src/heal/config.js';
import type { ClusterConditions } from '../../src/heal/decision.js';
import type { SnapshotRequestDetail } from '../../src/heal/events.js';
import type { EtcdPort, HealPorts } from '../../src/heal/ports.js';
import {
  DRAIN_GRACE_MS,
  workerDrainedParameter,
  workerLeavingParameter,
} from '../../src/heal/worker-hooks.js';
import {
  createReconcilerHandler,
  type PassSummary,
  type ReconcilerDeps,
  type SnapshotStorePort,
  type Telemetry,
} from '../../src/lambdas/reconciler-handler.js';
import { snapshotRequestEvent } from '../../src/lambdas/snapshot.js';
import {
  createLambdaCloud,
  type LambdaCloud,
  publishConfig,
  registerTargets,
  sessionArn,
  targetsOf,
} from '../support/lambda-cloud.js';
import {
  lifecycleEvent,
  memberStartedEvent,
  nodeReadyEvent,
  scheduledEvent,
  stateChangeEvent,
} from '../support/lambda-events.js';

const endpoint = inject('motoEndpoint');

const conditions: ClusterConditions = {
  etcdReachable: true,
  voters: 3,
  healthyVoters: 3,
  learners: 0,
  quorum: 2,
  quorumMargin: 1,
  leaderId: '1',
  expectedMasters: 3,
  runningMasters: 3,
  registeredTargets: 3,
  membershipChange: undefined,
  converged: true,
};

/**
 * A stand-in master pass that acts through the real ports (moto): it registers InService masters in
 * the API target group and publishes a status document. Idempotent, like the real one.
 */
async function standInPass(ports: HealPorts, config: ReconcilerConfig): Promise<PassSummary> {
  const group = await ports.fleet.describeGroup(config.masterGroupName);
  const registered = new Set(
    (await ports.loadBalancer.describeTargets(config.apiTargetGroupArn)).map((t) => t.instanceId),
  );
  const actions: PassSummary['actions'] = [];
  for (const i of group.instances) {
    if (i.lifecycleState === 'InService' && !registered.has(i.instanceId)) {
      await ports.loadBalancer.registerTarget(config.apiTargetGroupArn, i.instanceId);
      actions.push({
        kind: 'register-target',
        instanceId: i.instanceId,
        reason: 'in service, not registered',
      });
    }
  }
  await ports.parameters.put(
    statusParameter(config.cluster),
    JSON.stringify({ lastActions: actions.map(describeAction) }),
  );
  return { conditions, actions, waits: [] };
}

function recordingTelemetry() {
  const lines: Array<{ level: string; message: string; keys: Record<string, unknown> }> = [];
  const metrics: Array<{ name: string; value: number }> = [];
  const flushed: Array<string | undefined> = [];
  let keys: Record<string, unknown> = {};
  const line = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    lines.push({ level, message, keys: { ...keys, ...extra } });
  const telemetry: Telemetry = {
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    appendKeys: (k) => {
      keys = { ...keys, ...k };
    },
    removeKeys: (names) => {
      keys = Object.fromEntries(Object.entries(keys).filter(([k]) => !names.includes(k)));
    },
    metric: (name, _unit, value) => metrics.push({ name, value }),
    flushMetrics: (c) => flushed.push(c),
  };
  return { telemetry, lines, metrics, flushed };
}

const notHere = () => Promise.reject(new Error('etcd is not part of this test'));
const noEtcd: EtcdPort = {
  listMembers: notHere,
  addLearner: notHere,
  promoteMember: notHere,
  removeMember: notHere,
  status: notHere,
  moveLeader: notHere,
  alarms: notHere,
};

function setup(cloud: LambdaCloud, overrides: Partial<ReconcilerDeps> = {}) {
  const rec = recordingTelemetry();
  const passes: ReconcilerConfig[] = [];
  const deps: ReconcilerDeps = {
    clients: { autoScaling: cloud.autoScaling, ec2: cloud.aws.ec2, elbv2: cloud.elbv2, ssm: cloud.aws.ssm },
    cluster: cloud.config.cluster,
    makeEtcd: () => noEtcd,
    runPass: async (ports, config) => {
      passes.push(config);
      return standInPass(ports, config);
    },
    telemetry: rec.telemetry,
    now: Date.now,
    ...overrides,
  };
  return { handler: createReconcilerHandler(deps), passes, ...rec };
}

const unique = (p: string) => `${p}${randomBytes(3).toString('hex')}`;

describe('reconciler handler against moto', () => {
  let cloud: LambdaCloud;
  const ssmValue = (name: string) => createParameterPort(cloud.aws.ssm).get(name);
  beforeAll(async () => {
    cloud = await createLambdaCloud(endpoint, unique('lh'), 'eu-south-1');
  });

  it('a scheduled pass reconciles the cluster from the environment; the same event again changes nothing', async () => {
    const { handler, passes, metrics, lines, flushed } = setup(cloud);
    const event = scheduledEvent();
    const first = await handler(event);
    expect(first).toMatchObject({ status: 'reconciled', cluster: cloud.config.cluster, trigger: 'schedule' });
    if (first.status !== 'reconciled') return;
    expect(first.actions).toHaveLength(3);
    expect(await targetsOf(cloud, cloud.config.apiTargetGroupArn)).toEqual([...cloud.masters].sort());
    expect(passes[0]).toEqual(cloud.config);
    const status = await cloud.aws.ssm.send(
      new GetParameterCommand({ Name: statusParameter(cloud.config.cluster) }),
    );
    expect(JSON.parse(status.Parameter!.Value!).lastActions).toHaveLength(3);

    const again = await handler(event);
    expect(again).toMatchObject({ status: 'reconciled', actions: [], workerHooks: [] });
    expect(await targetsOf(cloud, cloud.config.apiTargetGroupArn)).toEqual([...cloud.masters].sort());

    // Every line of the pass names the cluster; metrics carry margin, voters, actions, duration.
    const passLines = lines.filter((l) => l.level === 'info');
    expect(passLines.length).toBeGreaterThan(0);
    for (const l of passLines) expect(l.keys.cluster).toBe(cloud.config.cluster);
    const names = metrics.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'QuorumMargin',
        'HealthyVoters',
        'ActionsTaken',
        'Action.register-target',
        'PassDuration',
      ]),
    );
    expect(metrics.find((m) => m.name === 'Action.register-target')?.value).toBe(3);
    expect(flushed).toEqual([cloud.config.cluster, cloud.config.cluster]);
  });

  it('a master lifecycle event finds the cluster from the group tag and runs a master pass', async () => {
    const { handler, passes, lines } = setup(cloud);
    const r = await handler(lifecycleEvent('launching', cloud.config.masterGroupName, cloud.masters[0]!));
    expect(r).toMatchObject({ status: 'reconciled', trigger: 'lifecycle' });
    expect(passes).toHaveLength(1);
    expect(lines.some((l) => l.keys.instanceId === cloud.masters[0])).toBe(true);
  });

  it('a state change and a node ready event run a pass; two events in a row change nothing the second time', async () => {
    const { handler, passes } = setup(cloud);
    const a = await handler(stateChangeEvent(cloud.masters[1]!, 'running'));
    const b = await handler(nodeReadyEvent(cloud.config.cluster, cloud.masters[1]!));
    expect(a).toMatchObject({ status: 'reconciled', trigger: 'state-change' });
    expect(b).toMatchObject({ status: 'reconciled', trigger: 'node-ready', actions: [] });
    expect(passes).toHaveLength(2);
  });

  it('a "Member Started" nudge runs a pass for the cluster it names', async () => {
    const { handler, passes, lines } = setup(cloud);
    const r = await handler(memberStartedEvent(cloud.config.cluster, cloud.masters[2]!));
    expect(r).toMatchObject({ status: 'reconciled', trigger: 'member-started' });
    expect(passes).toHaveLength(1);
    expect(lines.some((l) => l.keys.instanceId === cloud.masters[2])).toBe(true);
    const other = await handler(memberStartedEvent('no-such-cluster', cloud.masters[2]!));
    expect(other.status).not.toBe('reconciled');
    expect(passes).toHaveLength(1);
  });

  it('worker launch: CONTINUE once the instance is running, exactly once across duplicate events', async () => {
    const { handler, passes } = setup(cloud);
    const id = cloud.workers[0]!;
    cloud.pendingHooks.set(id, 'Pending:Wait');
    const event = lifecycleEvent('launching', cloud.config.workerGroupName, id, 'tripod-worker-launching');
    const first = await handler(event);
    expect(first).toMatchObject({
      status: 'reconciled',
      workerHooks: [{ instanceId: id, hook: 'launching', result: 'continued' }],
    });
    expect(passes).toHaveLength(0); // worker events do not touch the control plane
    const mine = cloud.completions.filter((c) => c.InstanceId === id);
    expect(mine).toEqual([
      {
        AutoScalingGroupName: cloud.config.workerGroupName,
        LifecycleHookName: 'tripod-worker-launching',
        InstanceId: id,
        LifecycleActionResult: 'CONTINUE',
      },
    ]);
    const again = await handler(event);
    expect(again).toMatchObject({ status: 'reconciled', workerHooks: [] });
    expect(cloud.completions.filter((c) => c.InstanceId === id)).toHaveLength(1);
  });

  it('worker terminate: deregisters at once, heartbeats while the node drains (no early CONTINUE), CONTINUE once the node says it drained; a duplicate does nothing', async () => {
    const { handler } = setup(cloud);
    const [tg] = cloud.config.serviceTargetGroupArns;
    const id = cloud.workers[1]!;
    await registerTargets(cloud, tg!, cloud.workers);
    cloud.pendingHooks.set(id, 'Terminating:Wait');
    const event = lifecycleEvent(
      'terminating',
      cloud.config.workerGroupName,
      id,
      'tripod-worker-terminating',
    );
    const r = await handler(event);
    expect(r).toMatchObject({ workerHooks: [{ instanceId: id, hook: 'terminating', result: 'heartbeat' }] });
    expect(await targetsOf(cloud, tg!)).toEqual([cloud.workers[0]]);
    expect(cloud.completions.filter((c) => c.InstanceId === id)).toEqual([]);
    expect(cloud.heartbeats.filter((h) => h.InstanceId === id)).toHaveLength(1);
    const leaving = workerLeavingParameter(cloud.config.cluster, id);
    expect(await ssmValue(leaving)).toMatch(/^\d+$/);

    // Another worker (a pod with its node's role) says this one drained: not counted.
    const drainedBy = (session: string) =>
      cloud.ssmWriters.writeAs(sessionArn(`tripod-${cloud.config.cluster}-worker`, session), () =>
        cloud.aws.ssm.send(
          new PutParameterCommand({
            Name: workerDrainedParameter(cloud.config.cluster, id),
            Value: '2026-01-01T00:00:00Z',
            Type: 'String',
            Overwrite: true,
          }),
        ),
      );
    await drainedBy(cloud.workers[0]!);
    expect(await handler(event)).toMatchObject({
      workerHooks: [
        {
          instanceId: id,
          result: 'heartbeat',
          reason: expect.stringContaining(
            `(ignored ${workerDrainedParameter(cloud.config.cluster, id)}: written by ${sessionArn(`tripod-${cloud.config.cluster}-worker`, cloud.workers[0]!)}, not by ${id}'s own session`,
          ),
        },
      ],
    });
    expect(cloud.completions.filter((c) => c.InstanceId === id)).toEqual([]);

    // the node's own drain finished: worker.sh writes this (as its own session) just before it completes the hook
    await drainedBy(id);
    const done = await handler(event);
    expect(done).toMatchObject({
      workerHooks: [{ instanceId: id, result: 'continued', reason: 'the node drained itself' }],
    });
    expect(cloud.completions.filter((c) => c.InstanceId === id)).toMatchObject([
      { LifecycleHookName: 'tripod-worker-terminating', LifecycleActionResult: 'CONTINUE' },
    ]);
    expect(await ssmValue(leaving)).toBeUndefined();
    expect(await ssmValue(workerDrainedParameter(cloud.config.cluster, id))).toBeUndefined();
    const again = await handler(event);
    expect(again).toMatchObject({ status: 'reconciled', workerHooks: [] });
    expect(cloud.completions.filter((c) => c.InstanceId === id)).toHaveLength(1);
  });

  it('ignores foreign, malformed and other clusters’ events without touching anything', async () => {
    const { handler, passes, lines } = setup(cloud);
    const reasons: string[] = [];
    const ignored = async (e: unknown) => {
      const r = await handler(e);
      expect(r.status).toBe('ignored');
      if (r.status === 'ignored') reasons.push(r.reason);
    };
    await ignored({ ...scheduledEvent(), source: 'aws.s3', 'detail-type': 'Object Created' });
    await ignored({ not: 'an event' });
    await ignored(lifecycleEvent('launching', cloud.untaggedGroup, cloud.masters[0]!));
    await ignored(lifecycleEvent('launching', 'no-such-group', cloud.masters[0]!));
    await ignored(nodeReadyEvent('some-other-cluster', cloud.masters[0]!));
    await ignored(stateChangeEvent('i-0000000000000000a', 'running'));
    expect(passes).toHaveLength(0);
    expect(reasons[2]).toMatch(/no tripod:cluster tag/);
    expect(reasons[4]).toMatch(/this function reconciles/);
    expect(lines.filter((l) => l.level === 'warn')).toHaveLength(6);
  });

  it('ignores a cluster without configuration, and fails loudly on a broken one', async () => {
    const other = unique('lx');
    const { handler } = setup(cloud, { cluster: undefined });
    const r = await handler(nodeReadyEvent(other, cloud.masters[0]!));
    expect(r).toMatchObject({ status: 'ignored', reason: expect.stringMatching(/no configuration/) });
    await cloud.aws.ssm.send(
      new PutParameterCommand({
        Name: configParameter(other),
        Value: JSON.stringify({ cluster: other }),
        Type: 'String',
      }),
    );
    await expect(handler(nodeReadyEvent(other, cloud.masters[0]!))).rejects.toThrow(
      /not a reconciler configuration: region/,
    );
  });
});

describe('worker terminate whose node never says it drained', () => {
  it('heartbeats across invocations and continues only after the deregistration delay + drain grace, counted from the first sight', async () => {
    const cloud = await createLambdaCloud(endpoint, unique('ld'), 'eu-south-2');
    const [tg] = cloud.config.serviceTargetGroupArns;
    const id = cloud.workers[0]!;
    await registerTargets(cloud, tg!, [id]);
    cloud.keepDraining.add(id);
    cloud.pendingHooks.set(id, 'Terminating:Wait');
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const delayMs = 300_000; // moto's default deregistration delay
    const deadline = t0 + delayMs + DRAIN_GRACE_MS;
    const event = lifecycleEvent(
      'terminating',
      cloud.config.workerGroupName,
      id,
      'tripod-worker-terminating',
    );
    // every call is a fresh handler: nothing but SSM carries the first-sight time between invocations
    const at = (now: number) => setup(cloud, { now: () => now }).handler(scheduledEvent());
    expect(await setup(cloud, { now: () => t0 }).handler(event)).toMatchObject({
      workerHooks: [
        {
          instanceId: id,
          result: 'heartbeat',
          reason: expect.stringContaining(new Date(deadline).toISOString()),
        },
      ],
    });
    expect(await at(t0 + 60_000)).toMatchObject({ workerHooks: [{ instanceId: id, result: 'heartbeat' }] });
    expect(await at(deadline - 1)).toMatchObject({ workerHooks: [{ instanceId: id, result: 'heartbeat' }] });
    expect(cloud.completions).toHaveLength(0);
    expect(cloud.heartbeats.filter((h) => h.InstanceId === id)).toHaveLength(3);
    expect(await at(deadline)).toMatchObject({
      workerHooks: [
        { instanceId: id, result: 'continued', reason: expect.stringMatching(/did not finish draining/) },
      ],
    });
    expect(cloud.completions).toMatchObject([
      { InstanceId: id, LifecycleHookName: 'tripod-worker-terminating', LifecycleActionResult: 'CONTINUE' },
    ]);
    expect(cloud.pendingHooks.has(id)).toBe(false);
  });

  it('the parameter the worker script writes is the one the reconciler reads', () => {
    const script = readFileSync('src/bootstrap/scripts/worker.sh', 'utf8');
    expect(script).toContain(`--name "${workerDrainedParameter('$TRIPOD_CLUSTER', '$INSTANCE_ID')}"`);
  });
});

describe('backups: snapshots in an invocation of their own (issue 14, finding 5)', () => {
  let cloud: LambdaCloud;
  const bucket = 'tripod-lb-123456789012-eu-south-1-backups';
  beforeAll(async () => {
    cloud = await createLambdaCloud(endpoint, unique('lb'), 'eu-south-1');
    cloud.config = {
      ...cloud.config,
      backupBucket: bucket,
      backupIntervalMinutes: 20,
      backupRetentionDays: 7,
    };
    await publishConfig(cloud);
  });

  /** One healthy voter on 127.0.0.1 (the snapshot invocation looks for one). */
  const oneVoter: EtcdPort = {
    ...noEtcd,
    listMembers: async () => [
      {
        id: '1',
        name: 'i-1',
        peerURLs: ['https://127.0.0.1:2380'],
        clientURLs: ['https://127.0.0.1:2379'],
        isLearner: false,
      },
    ],
    status: async () => ({
      memberId: '1',
      leaderId: '1',
      raftIndex: 10,
      raftAppliedIndex: 10,
      raftTerm: 2,
      isLearner: false,
      dbSize: 1,
      version: '3.5.33',
      errors: [],
    }),
    alarms: async () => [],
  };

  /** A store and a requester that record their calls. */
  function fakes(take: SnapshotStorePort['take']) {
    const requests: SnapshotRequestDetail[] = [];
    const takes: Array<{ from: string; reason: string; retentionDays: number }> = [];
    let closed = 0;
    const deps: Partial<ReconcilerDeps> = {
      makeEtcd: () => oneVoter,
      makeSnapshotStore: () => ({
        take: (from, reason, retentionDays) => {
          takes.push({ from, reason, retentionDays });
          return take(from, reason, retentionDays);
        },
        close: () => {
          closed++;
        },
      }),
      requestSnapshot: async (_config, detail) => {
        requests.push(detail);
      },
    };
    return { deps, requests, takes, closed: () => closed };
  }
  const backupStatus = async () =>
    JSON.parse(
      (await createParameterPort(cloud.aws.ssm).get(backupStatusParameter(cloud.config.cluster))) ?? '{}',
    );
  const lastStatusAction = async () => {
    const status = await cloud.aws.ssm.send(
      new GetParameterCommand({ Name: statusParameter(cloud.config.cluster) }),
    );
    return JSON.parse(status.Parameter!.Value!).lastActions.at(-1);
  };
  const snapshotEvent = (reason: string) =>
    snapshotRequestEvent(
      { cluster: cloud.config.cluster, reason, requestedAt: new Date().toISOString() },
      'eu-south-1',
    );

  it('the schedule only requests a snapshot (once while one is under way); the snapshot invocation takes it, no pass', async () => {
    const f = fakes(async () => ({ key: 'x/1.db', bytes: 1234, revision: 9, pruned: ['a', 'b'] }));
    const { handler, metrics, passes } = setup(cloud, f.deps);
    expect(await handler(scheduledEvent())).toMatchObject({
      status: 'reconciled',
      backup: { outcome: 'requested', reason: 'scheduled' },
    });
    expect(f.requests).toMatchObject([{ cluster: cloud.config.cluster, reason: 'scheduled' }]);
    expect(f.takes).toEqual([]);
    expect((await backupStatus()).requestedAt).toEqual(expect.any(String));
    expect(metrics.find((m) => m.name === 'BackupRequested')?.value).toBe(1);
    // still under way: not asked twice
    expect(await handler(scheduledEvent())).toMatchObject({ backup: { outcome: 'in-flight' } });
    expect(f.requests).toHaveLength(1);

    const passesBefore = passes.length;
    const r = await handler(snapshotEvent('scheduled'));
    expect(r).toEqual({
      status: 'snapshot',
      cluster: cloud.config.cluster,
      backup: { outcome: 'taken', key: 'x/1.db', bytes: 1234, pruned: 2 },
    });
    expect(passes.length).toBe(passesBefore);
    expect(f.takes).toEqual([{ from: 'https://127.0.0.1:2379', reason: 'scheduled', retentionDays: 7 }]);
    expect(f.closed()).toBe(1);
    const status = await backupStatus();
    expect(status.lastSnapshot).toMatchObject({ key: 'x/1.db', bytes: 1234, revision: 9 });
    expect(status.requestedAt).toBeUndefined();
    expect(metrics.find((m) => m.name === 'BackupTaken')?.value).toBe(1);
    expect(await lastStatusAction()).toMatchObject({
      action: 'backup',
      outcome: 'ok',
      detail: 'x/1.db (1234 bytes), 2 pruned',
    });
    // fresh now: not due for the interval
    expect(await handler(scheduledEvent())).toMatchObject({ backup: { outcome: 'not-due' } });
    expect(f.requests).toHaveLength(1);
  });

  it('a pass never waits for a snapshot: before a change it gets `requested` at once, even when snapshots hang', async () => {
    const f = fakes(() => new Promise(() => {})); // a snapshot that never ends
    let answer: unknown;
    let tookMs = Number.POSITIVE_INFINITY;
    const { handler } = setup(cloud, {
      ...f.deps,
      runPass: async (ports, config) => {
        const t0 = Date.now();
        answer = await ports.backup?.snapshot('https://127.0.0.1:2379', 'before add i-9 as a learner');
        tookMs = Date.now() - t0;
        return standInPass(ports, config);
      },
    });
    await createParameterPort(cloud.aws.ssm).delete(backupStatusParameter(cloud.config.cluster));
    await handler(nodeReadyEvent(cloud.config.cluster, cloud.masters[0]!));
    expect(answer).toEqual({ requested: 'requested' });
    expect(tookMs).toBeLessThan(2000);
    expect(f.requests).toMatchObject([{ reason: 'before add i-9 as a learner' }]);
    expect(f.takes).toEqual([]);
  });

  it('a failed snapshot is BackupFailed, an error line, the backup status and a failed status line', async () => {
    const f = fakes(async () => {
      throw new Error('AccessDenied: s3:PutObject');
    });
    const { handler, metrics, lines } = setup(cloud, f.deps);
    const r = await handler(snapshotEvent('before remove m3'));
    expect(r).toMatchObject({
      status: 'snapshot',
      backup: { outcome: 'failed', error: 'AccessDenied: s3:PutObject' },
    });
    expect(metrics.find((x) => x.name === 'BackupFailed')?.value).toBe(1);
    expect(
      lines.some(
        (l) => l.level === 'error' && /snapshot \(before remove m3\) failed: AccessDenied/.test(l.message),
      ),
    ).toBe(true);
    expect((await backupStatus()).lastFailure).toMatchObject({ error: 'AccessDenied: s3:PutObject' });
    expect(await lastStatusAction()).toMatchObject({ action: 'backup', outcome: 'failed' });
  });

  it('no healthy voter to snapshot from is a failure too, not a silent skip', async () => {
    const f = fakes(async () => ({ key: 'never', bytes: 0, revision: 0, pruned: [] }));
    const { handler } = setup(cloud, { ...f.deps, makeEtcd: () => noEtcd });
    expect(await handler(snapshotEvent('scheduled'))).toMatchObject({
      backup: { outcome: 'failed', error: expect.stringMatching(/no healthy etcd voter/) },
    });
    expect(f.takes).toEqual([]);
  });
});
