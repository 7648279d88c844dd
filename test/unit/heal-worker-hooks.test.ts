/**
 * The worker hooks' decision (heal/worker-hooks.ts), pure: each branch of planWorkerHooks, and
 * settleWorkerHooks carrying a plan out through an in-memory WorkerHookPort. No server.
 */
import { describe, expect, it } from 'vitest';
import type { FleetInstance, WorkerHookPort } from '../../src/heal/ports.js';
import {
  DRAIN_GRACE_MS,
  planWorkerHooks,
  settleWorkerHooks,
  type WorkerHooksView,
  workerDrainedParameter,
  workerLeavingParameter,
} from '../../src/heal/worker-hooks.js';

const C = 'c';
const NOW = Date.UTC(2024, 0, 1, 12);
const ownSession = (id: string) => `arn:aws:sts::123456789012:assumed-role/tripod-${C}-worker/${id}`;
const leaving = (id: string) => workerLeavingParameter(C, id);
const drained = (id: string) => workerDrainedParameter(C, id);
const iso = (ms: number) => new Date(ms).toISOString();

function view(over: Partial<WorkerHooksView> = {}): WorkerHooksView {
  return {
    cluster: C,
    now: NOW,
    launching: [],
    leaving: [],
    targetGroups: [],
    records: {},
    writers: {},
    ...over,
  };
}

/**
 * planWorkerHooks, with each hook step written as the call it makes (complete or heartbeat), and the
 * hook outcomes on their own.
 */
function decide(v: WorkerHooksView) {
  const steps = planWorkerHooks(v);
  return {
    steps: steps.map((s) =>
      s.kind === 'hook'
        ? {
            kind: s.outcome.result === 'continued' ? 'complete' : 'heartbeat',
            instanceId: s.outcome.instanceId,
            hook: s.outcome.hook,
          }
        : s,
    ),
    outcomes: steps.flatMap((s) => (s.kind === 'hook' ? [s.outcome] : [])),
  };
}

describe('planWorkerHooks: launching', () => {
  it('CONTINUE once EC2 says running', () => {
    const plan = decide(view({ launching: [{ instanceId: 'i-1', state: 'running' }] }));
    expect(plan.steps).toEqual([{ kind: 'complete', instanceId: 'i-1', hook: 'launching' }]);
    expect(plan.outcomes).toEqual([
      { instanceId: 'i-1', hook: 'launching', result: 'continued', reason: 'the instance is running' },
    ]);
  });

  it('heartbeats while the instance is not running yet, or EC2 does not know it', () => {
    const plan = decide(
      view({
        launching: [
          { instanceId: 'i-1', state: 'pending' },
          { instanceId: 'i-2', state: undefined },
        ],
      }),
    );
    expect(plan.steps).toEqual([
      { kind: 'heartbeat', instanceId: 'i-1', hook: 'launching' },
      { kind: 'heartbeat', instanceId: 'i-2', hook: 'launching' },
    ]);
    expect(plan.outcomes.map((o) => [o.result, o.reason])).toEqual([
      ['heartbeat', 'the instance is pending'],
      ['heartbeat', 'the instance is not known to EC2 yet'],
    ]);
  });
});

describe('planWorkerHooks: terminating', () => {
  const tgs = [
    { arn: 'tg-a', registered: ['i-1', 'i-9'], delaySeconds: 30 },
    { arn: 'tg-b', registered: ['i-9'], delaySeconds: 120 },
  ];

  it('nobody leaving: no deregistration and no record is touched, stale ones included', () => {
    const plan = decide(view({ targetGroups: tgs, records: { [leaving('i-old')]: '1' }, writers: {} }));
    expect(plan.steps).toEqual([]);
    expect(plan.outcomes).toEqual([]);
  });

  it('first sight: deregisters from the groups it is registered in (first), records when, heartbeats until the longest delay + grace', () => {
    const plan = decide(view({ leaving: ['i-1'], targetGroups: tgs }));
    expect(plan.steps).toEqual([
      { kind: 'deregister', targetGroupArn: 'tg-a', instanceId: 'i-1' },
      { kind: 'put', name: leaving('i-1'), value: String(NOW) },
      { kind: 'heartbeat', instanceId: 'i-1', hook: 'terminating' },
    ]);
    expect(plan.outcomes).toEqual([
      {
        instanceId: 'i-1',
        hook: 'terminating',
        result: 'heartbeat',
        reason: `the node is draining (deregistered from the service target groups; CONTINUE by ${iso(NOW + 120_000 + DRAIN_GRACE_MS)} at the latest)`,
      },
    ]);
  });

  it('the deadline counts from the first sight: heartbeat a millisecond before it, CONTINUE (and forget) at it', () => {
    const since = NOW - 120_000 - DRAIN_GRACE_MS;
    const records = { [leaving('i-1')]: String(since + 1) };
    const before = decide(view({ leaving: ['i-1'], targetGroups: tgs, records }));
    expect(before.steps.filter((s) => s.kind !== 'deregister')).toEqual([
      { kind: 'heartbeat', instanceId: 'i-1', hook: 'terminating' },
    ]);

    const at = decide(
      view({ leaving: ['i-1'], targetGroups: tgs, records: { [leaving('i-1')]: String(since) } }),
    );
    expect(at.steps.filter((s) => s.kind !== 'deregister')).toEqual([
      { kind: 'complete', instanceId: 'i-1', hook: 'terminating' },
      { kind: 'delete', name: leaving('i-1') },
    ]);
    expect(at.outcomes[0]).toEqual({
      instanceId: 'i-1',
      hook: 'terminating',
      result: 'continued',
      reason: `the node did not finish draining by ${iso(NOW)} (deregistration delay 120 s + ${DRAIN_GRACE_MS / 1000} s grace)`,
    });
  });

  it('an unreadable or zero leaving record counts as a first sight', () => {
    for (const value of ['not a time', '0', '-5']) {
      const plan = decide(view({ leaving: ['i-1'], records: { [leaving('i-1')]: value } }));
      expect(plan.steps).toEqual([
        { kind: 'put', name: leaving('i-1'), value: String(NOW) },
        { kind: 'heartbeat', instanceId: 'i-1', hook: 'terminating' },
      ]);
    }
  });

  it('no service target groups: the deadline is the grace alone', () => {
    const plan = decide(
      view({ leaving: ['i-1'], records: { [leaving('i-1')]: String(NOW - DRAIN_GRACE_MS) } }),
    );
    expect(plan.outcomes[0]?.result).toBe('continued');
    expect(plan.outcomes[0]?.reason).toContain('deregistration delay 0 s');
  });

  it('drained, written by the node’s own session: CONTINUE at once and forget both records', () => {
    const records = { [leaving('i-1')]: String(NOW - 1000), [drained('i-1')]: 'true' };
    const plan = decide(
      view({ leaving: ['i-1'], records, writers: { [drained('i-1')]: ownSession('i-1') } }),
    );
    expect(plan.steps).toEqual([
      { kind: 'complete', instanceId: 'i-1', hook: 'terminating' },
      { kind: 'delete', name: leaving('i-1') },
      { kind: 'delete', name: drained('i-1') },
    ]);
    expect(plan.outcomes[0]).toMatchObject({ result: 'continued', reason: 'the node drained itself' });
  });

  it('drained, written by another worker’s session or an unknown writer: ignored, the node keeps draining', () => {
    for (const writer of [ownSession('i-2'), undefined]) {
      const records = { [leaving('i-1')]: String(NOW - 1000), [drained('i-1')]: 'true' };
      const plan = decide(view({ leaving: ['i-1'], records, writers: { [drained('i-1')]: writer } }));
      expect(plan.steps).toEqual([{ kind: 'heartbeat', instanceId: 'i-1', hook: 'terminating' }]);
      expect(plan.outcomes[0]?.result).toBe('heartbeat');
      expect(plan.outcomes[0]?.reason).toContain(
        `(ignored ${drained('i-1')}: written by ${writer ?? 'an unknown writer'}, not by i-1's own session`,
      );
    }
  });

  it('a forged drained record past the deadline: CONTINUE by the deadline, saying what was ignored', () => {
    const records = { [leaving('i-1')]: String(NOW - DRAIN_GRACE_MS), [drained('i-1')]: 'true' };
    const plan = decide(
      view({ leaving: ['i-1'], records, writers: { [drained('i-1')]: ownSession('i-2') } }),
    );
    expect(plan.outcomes[0]?.result).toBe('continued');
    expect(plan.outcomes[0]?.reason).toMatch(/^the node did not finish draining by .*\(ignored /);
    expect(plan.steps.filter((s) => s.kind === 'delete')).toHaveLength(2);
  });

  it('records of instances no longer leaving are forgotten; a leaving one’s are kept while it drains', () => {
    const records = {
      [leaving('i-1')]: String(NOW - 1000),
      [leaving('i-gone')]: '1',
      [drained('i-gone')]: 'true',
    };
    const plan = decide(view({ leaving: ['i-1'], records }));
    expect(plan.steps).toEqual([
      { kind: 'heartbeat', instanceId: 'i-1', hook: 'terminating' },
      { kind: 'delete', name: leaving('i-gone') },
      { kind: 'delete', name: drained('i-gone') },
    ]);
  });
});

/** An in-memory port that records every call. */
function memoryPort(
  instances: Array<Pick<FleetInstance, 'instanceId' | 'lifecycleState'>>,
  states: Record<string, string>,
) {
  const calls: string[] = [];
  /** The instance IDs of each EC2 state read. */
  const stateReads: string[][] = [];
  const params = new Map<string, string>();
  const port: WorkerHookPort = {
    fleet: {
      async describeGroup(name) {
        calls.push(`describeGroup ${name}`);
        return {
          name,
          desired: instances.length,
          instances: instances.map((i) => ({
            ...i,
            zone: 'z',
            privateIp: undefined,
            health: 'Healthy' as const,
            launchTime: 0,
          })),
        };
      },
      async completeLifecycleAction(group, id, hook, result) {
        calls.push(`complete ${group} ${id} ${hook} ${result}`);
      },
      async recordLifecycleHeartbeat(group, id, hook) {
        calls.push(`heartbeat ${group} ${id} ${hook}`);
      },
    },
    loadBalancer: {
      async describeTargets(arn) {
        calls.push(`describeTargets ${arn}`);
        return [{ instanceId: 'i-2', health: 'healthy' }];
      },
      async deregisterTarget(arn, id) {
        calls.push(`deregister ${arn} ${id}`);
      },
      async deregistrationDelaySeconds() {
        return 10;
      },
    },
    parameters: {
      async getByPath(path) {
        calls.push(`getByPath ${path}`);
        return Object.fromEntries([...params].filter(([k]) => k.startsWith(path)));
      },
      async writers(path) {
        calls.push(`writers ${path}`);
        return {};
      },
      async put(name, value) {
        calls.push(`put ${name}`);
        params.set(name, value);
      },
      async delete(name) {
        calls.push(`delete ${name}`);
        params.delete(name);
      },
    },
    instanceStates: async (ids) => {
      stateReads.push([...ids]);
      return Object.fromEntries(ids.flatMap((id) => (states[id] ? [[id, states[id]]] : [])));
    },
    clock: { now: () => NOW },
  };
  return { port, calls, params, stateReads };
}

describe('settleWorkerHooks', () => {
  it('reads the EC2 state of every launching worker in one read, and none when nobody launches', async () => {
    const { port, stateReads } = memoryPort(
      [
        { instanceId: 'i-1', lifecycleState: 'Pending:Wait' },
        { instanceId: 'i-2', lifecycleState: 'Pending:Wait' },
        { instanceId: 'i-3', lifecycleState: 'Pending:Wait' },
        { instanceId: 'i-4', lifecycleState: 'InService' },
      ],
      { 'i-1': 'running', 'i-2': 'pending' },
    );
    const outcomes = await settleWorkerHooks(port, C, 'workers', []);
    expect(stateReads).toEqual([['i-1', 'i-2', 'i-3']]);
    expect(outcomes.map((o) => `${o.instanceId} ${o.result} (${o.reason})`)).toEqual([
      'i-1 continued (the instance is running)',
      'i-2 heartbeat (the instance is pending)',
      'i-3 heartbeat (the instance is not known to EC2 yet)',
    ]);
    const idle = memoryPort([{ instanceId: 'i-4', lifecycleState: 'InService' }], {});
    await settleWorkerHooks(idle.port, C, 'workers', []);
    expect(idle.stateReads).toEqual([]);
  });

  it('nobody leaving: reads neither the target groups nor the records', async () => {
    const { port, calls } = memoryPort([{ instanceId: 'i-1', lifecycleState: 'Pending:Wait' }], {
      'i-1': 'running',
    });
    const outcomes = await settleWorkerHooks(port, C, 'workers', ['tg-a']);
    expect(calls).toEqual(['describeGroup workers', 'complete workers i-1 launching CONTINUE']);
    expect(outcomes.map((o) => o.result)).toEqual(['continued']);
  });

  it('carries the plan out in order through the port, and a second pass keeps the first sight', async () => {
    const { port, calls, params } = memoryPort(
      [
        { instanceId: 'i-1', lifecycleState: 'Pending:Wait' },
        { instanceId: 'i-2', lifecycleState: 'Terminating:Wait' },
        { instanceId: 'i-3', lifecycleState: 'InService' },
      ],
      { 'i-1': 'pending' },
    );
    await settleWorkerHooks(port, C, 'workers', ['tg-a']);
    expect(calls).toEqual([
      'describeGroup workers',
      'describeTargets tg-a',
      `getByPath /tripod/${C}/workers/`,
      `writers /tripod/${C}/workers/`,
      'heartbeat workers i-1 launching',
      'deregister tg-a i-2',
      `put ${leaving('i-2')}`,
      'heartbeat workers i-2 terminating',
    ]);
    expect(params.get(leaving('i-2'))).toBe(String(NOW));
    calls.length = 0;
    await settleWorkerHooks(port, C, 'workers', ['tg-a']);
    expect(calls.filter((c) => c.startsWith('put'))).toEqual([]);
  });
});
