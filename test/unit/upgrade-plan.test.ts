/** The upgrade's next step (pure) and the run loop over an in-memory port (workers, failures, abort). */
import { describe, expect, it } from 'vitest';
import type { StatusDocument } from '../../src/heal/status.js';
import type { GroupView, RefreshView, UpgradeObserved, UpgradeRecord } from '../../src/upgrade/model.js';
import {
  masterRefreshPreferences,
  nextStep,
  surgeOfOne,
  type UpgradeRequest,
} from '../../src/upgrade/plan.js';
import type { UpgradePort } from '../../src/upgrade/ports.js';
import { runUpgrade } from '../../src/upgrade/run.js';

const NOW = Date.UTC(2026, 5, 1, 12);
const zones = ['z-a', 'z-b', 'z-c'];

const group = (name: string, versions: string[], target: string, states?: string[]): GroupView => ({
  name,
  desired: versions.length,
  targetVersion: target,
  instances: versions.map((v, i) => ({
    instanceId: `${name}-i${i}`,
    zone: zones[i % 3] as string,
    lifecycleState: states?.[i] ?? 'InService',
    health: 'Healthy',
    version: v,
  })),
});

function status(margin = 1, names = ['m-i0', 'm-i1', 'm-i2']): StatusDocument {
  const healthy = names.length - (1 - margin);
  return {
    version: 1,
    cluster: 'c',
    at: new Date(NOW - 10_000).toISOString(),
    conditions: {
      etcdReachable: true,
      voters: names.length,
      healthyVoters: healthy,
      learners: 0,
      quorum: 2,
      quorumMargin: healthy - 2,
      leaderId: '1',
      expectedMasters: 3,
      runningMasters: 3,
      registeredTargets: 3,
      membershipChange: undefined,
      converged: margin === 1,
    },
    members: names.map((n, i) => ({ id: `${i + 1}`, name: n, healthy: i < healthy })),
    zones: {},
    targets: [],
    waits: [],
    lastActions: [],
    memory: { unhealthySince: {} },
  };
}

const req: UpgradeRequest = {
  cluster: 'c',
  masterGroup: 'm',
  workerGroup: 'w',
  expectedMasters: 3,
  zones,
  kubernetesVersion: '1.32.1',
  workerMinHealthyPercentage: 75,
  abort: false,
};

const inProgress: UpgradeRecord = {
  kubernetesVersion: '1.31.4',
  inProgress: {
    kubernetesVersion: '1.32.1',
    masterVersion: '2',
    previousMasterVersion: '1',
    workerVersion: '5',
    previousWorkerVersion: '4',
    startedAt: new Date(NOW - 60_000).toISOString(),
  },
};

const observed = (over: Partial<UpgradeObserved> = {}): UpgradeObserved => ({
  now: NOW,
  masters: group('m', ['1', '1', '1'], '2'),
  workers: group('w', ['4', '4', '4', '4'], '5'),
  masterRefresh: undefined,
  workerRefresh: undefined,
  status: status(),
  record: { kubernetesVersion: '1.31.4' },
  runningKubernetesVersion: undefined,
  ...over,
});

const refresh = (status: RefreshView['status'], desiredVersion = '2'): RefreshView => ({
  id: 'r-1',
  status,
  desiredVersion,
  startTime: NOW - 30_000,
});

describe('nextStep', () => {
  it('surge of one: the smallest max healthy % that allows exactly one extra instance', () => {
    for (const n of [1, 3, 5, 7, 9]) {
      const p = surgeOfOne(n);
      expect(Math.floor((n * p) / 100)).toBe(n + 1);
      expect(Math.floor((n * (p - 1)) / 100)).toBeLessThanOrEqual(n);
    }
    expect(masterRefreshPreferences(3)).toMatchObject({ minHealthyPercentage: 100, skipMatching: true });
  });

  it('begins with a passing preflight and records the versions to go back to', () => {
    const s = nextStep(observed(), req);
    expect(s.kind).toBe('begin');
    if (s.kind !== 'begin') return;
    expect(s.record.inProgress).toMatchObject({
      kubernetesVersion: '1.32.1',
      masterVersion: '2',
      previousMasterVersion: '1',
      workerVersion: '5',
      previousWorkerVersion: '4',
    });
  });

  it('refuses when the launch templates do not have the new version yet (apply first)', () => {
    const s = nextStep(
      observed({
        masters: group('m', ['2', '2', '2'], '2'),
        workers: group('w', ['5'], '5'),
        record: { kubernetesVersion: '1.31.4' },
      }),
      req,
    );
    expect(s).toMatchObject({ kind: 'refuse' });
    expect(JSON.stringify(s)).toMatch(/run apply first/);
  });

  it('nothing to do when every instance runs its template and the version is recorded', () => {
    const s = nextStep(
      observed({
        masters: group('m', ['2', '2', '2'], '2'),
        workers: undefined,
        record: { kubernetesVersion: '1.32.1' },
      }),
      req,
    );
    expect(s).toMatchObject({ kind: 'finish', outcome: 'nothing-to-do' });
  });

  it('refuses a skipped minor through preflight', () => {
    const s = nextStep(observed(), { ...req, kubernetesVersion: '1.33.0' });
    expect(s.kind).toBe('refuse');
    expect(JSON.stringify(s)).toMatch(/skips Kubernetes 1\.32/);
  });

  it('masters first, surge first; workers only once the masters are done', () => {
    const a = nextStep(observed({ record: inProgress }), req);
    expect(a).toMatchObject({ kind: 'start-refresh', group: 'm', role: 'masters', version: '2' });
    if (a.kind === 'start-refresh') expect(a.preferences.maxHealthyPercentage).toBe(134);
    const b = nextStep(
      observed({
        record: inProgress,
        masters: group('m', ['2', '2', '2'], '2'),
        masterRefresh: refresh('Successful'),
      }),
      req,
    );
    expect(b).toMatchObject({ kind: 'start-refresh', group: 'w', role: 'workers', version: '5' });
    if (b.kind === 'start-refresh')
      expect(b.preferences).toMatchObject({ minHealthyPercentage: 75, maxHealthyPercentage: 100 });
    const c = nextStep(
      observed({
        record: inProgress,
        masters: group('m', ['2', '2', '2'], '2'),
        workers: group('w', ['5', '5', '5', '5'], '5'),
      }),
      req,
    );
    expect(c).toMatchObject({
      kind: 'finish',
      outcome: 'completed',
      record: { kubernetesVersion: '1.32.1' },
    });
  });

  it('waits on a refresh in progress; pauses (cancels) it when the quorum margin is 0', () => {
    expect(
      nextStep(observed({ record: inProgress, masterRefresh: refresh('InProgress') }), req),
    ).toMatchObject({ kind: 'wait' });
    const p = nextStep(
      observed({ record: inProgress, masterRefresh: refresh('InProgress'), status: status(0) }),
      req,
    );
    expect(p).toMatchObject({ kind: 'pause', cancel: true, group: 'm' });
    expect(JSON.stringify(p)).toMatch(/quorum margin 0/);
    // Cancelled (our pause) and healthy again: resume with a new refresh.
    const r = nextStep(observed({ record: inProgress, masterRefresh: refresh('Cancelled') }), req);
    expect(r).toMatchObject({ kind: 'start-refresh', group: 'm' });
    expect(JSON.stringify(r)).toMatch(/resuming after refresh r-1 Cancelled/);
    // Still unhealthy: stays paused without a refresh.
    expect(
      nextStep(observed({ record: inProgress, masterRefresh: refresh('Cancelled'), status: status(0) }), req),
    ).toMatchObject({
      kind: 'pause',
      cancel: false,
    });
  });

  it('a stale reconciler status pauses the masters too', () => {
    const stale = { ...status(), at: new Date(NOW - 20 * 60_000).toISOString() };
    expect(
      nextStep(observed({ record: inProgress, masterRefresh: refresh('InProgress'), status: stale }), req),
    ).toMatchObject({
      kind: 'pause',
    });
  });

  it('fails on a failed refresh, naming it', () => {
    const s = nextStep(
      observed({
        record: inProgress,
        masterRefresh: { ...refresh('Failed'), statusReason: 'instances failed to launch' },
      }),
      req,
    );
    expect(s).toMatchObject({ kind: 'fail' });
    expect(JSON.stringify(s)).toMatch(/r-1 failed: instances failed to launch/);
  });

  it('names the version when a refresh on the group template skipped outdated instances', () => {
    const unpinned: RefreshView = { id: 'r-9', status: 'Successful', startTime: NOW - 60_000 };
    const s = nextStep(observed({ record: inProgress, masterRefresh: unpinned }), req);
    expect(s).toMatchObject({ kind: 'start-refresh', group: 'm', version: '2', pin: true });
    expect(JSON.stringify(s)).toMatch(/refresh r-9 skipped them: naming version 2/);
    // A refresh that named its version is not a reason to pin.
    expect(
      nextStep(observed({ record: inProgress, masterRefresh: refresh('Cancelled') }), req),
    ).not.toHaveProperty('pin');
  });

  it('refuses a different version while an upgrade is in progress', () => {
    const s = nextStep(observed({ record: inProgress }), { ...req, kubernetesVersion: '1.32.2' });
    expect(JSON.stringify(s)).toMatch(/in progress and the spec now says 1\.32\.2/);
  });

  it('abort: rolls back a forward refresh, then refreshes back to the previous versions, masters last', () => {
    const ab = { ...req, abort: true };
    const mixed = group('m', ['2', '1', '1'], '2');
    expect(
      nextStep(observed({ record: inProgress, masters: mixed, masterRefresh: refresh('InProgress') }), ab),
    ).toMatchObject({
      kind: 'rollback',
      group: 'm',
    });
    expect(
      nextStep(observed({ record: inProgress, masters: mixed, masterRefresh: refresh('Cancelled') }), ab),
    ).toMatchObject({
      kind: 'start-refresh',
      group: 'm',
      version: '1',
    });
    const back = nextStep(
      observed({
        record: inProgress,
        masters: group('m', ['1', '1', '1'], '2'),
        workers: group('w', ['5', '4', '4', '4'], '5'),
      }),
      ab,
    );
    expect(back).toMatchObject({ kind: 'start-refresh', group: 'w', version: '4' });
    const done = nextStep(observed({ record: inProgress, masters: group('m', ['1', '1', '1'], '2') }), ab);
    expect(done).toMatchObject({
      kind: 'finish',
      outcome: 'aborted',
      record: { kubernetesVersion: '1.31.4' },
    });
    expect(nextStep(observed(), ab)).toMatchObject({ kind: 'finish', outcome: 'nothing-to-do' });
  });
});

/** A tiny fake AWS: refreshes replace every outdated instance after two looks. */
function fakePort(initial: { masters: GroupView; workers: GroupView; status: StatusDocument }) {
  const groups = new Map([
    ['m', structuredClone(initial.masters)],
    ['w', structuredClone(initial.workers)],
  ]);
  const refreshes = new Map<string, RefreshView[]>();
  const calls: string[] = [];
  let record: UpgradeRecord = {};
  let now = NOW;
  let seq = 0;
  const port: UpgradePort = {
    describeGroup: async (n) => structuredClone(groups.get(n)),
    describeRefreshes: async (n) => {
      const list = refreshes.get(n) ?? [];
      const r = list[0];
      if (r?.status === 'InProgress') {
        const g = groups.get(n) as GroupView;
        g.instances = g.instances.map((i, k) => ({
          ...i,
          instanceId: `${n}-new${k}`,
          version: r.desiredVersion as string,
        }));
        r.status = 'Successful';
      }
      return structuredClone(list);
    },
    startRefresh: async (n, version, prefs) => {
      calls.push(`start ${n} v${version} min${prefs.minHealthyPercentage} max${prefs.maxHealthyPercentage}`);
      const id = `r${seq++}`;
      refreshes.set(n, [
        { id, status: 'InProgress', desiredVersion: version, startTime: now },
        ...(refreshes.get(n) ?? []),
      ]);
      return id;
    },
    cancelRefresh: async (n) => {
      calls.push(`cancel ${n}`);
    },
    rollbackRefresh: async (n) => {
      calls.push(`rollback ${n}`);
    },
    readStatus: async () => ({ ...initial.status, at: new Date(now - 5_000).toISOString() }),
    readRecord: async () => structuredClone(record),
    writeRecord: async (_c, r) => {
      record = structuredClone(r);
      calls.push(`record ${JSON.stringify(r)}`);
    },
    runningKubernetesVersion: async () => '1.31.4',
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  return { port, calls, record: () => record };
}

/** The whole upgrade over a fake port (an hour, polling every second), with its progress as one text. */
async function runToEnd(port: UpgradePort) {
  const lines: string[] = [];
  const o = await runUpgrade(port, req, {
    timeoutMs: 3_600_000,
    pollMs: 1000,
    onProgress: (l) => lines.push(l),
  });
  return { o, progress: lines.join('\n') };
}

describe('runUpgrade over a fake port', () => {
  it('masters then workers, prints each step and ends with the old -> new table', async () => {
    const f = fakePort({
      masters: group('m', ['1', '1', '1'], '2'),
      workers: group('w', ['4', '4'], '5'),
      status: status(),
    });
    const { o, progress } = await runToEnd(f.port);
    expect(o.result).toBe('completed');
    expect(f.calls.filter((c) => c.startsWith('start'))).toEqual([
      'start m v2 min100 max134',
      'start w v5 min75 max100',
    ]);
    expect(f.record()).toEqual({ kubernetesVersion: '1.32.1' });
    expect(o.replacements.map((r) => `${r.role} ${r.old?.instanceId} -> ${r.new?.instanceId}`)).toEqual([
      'masters m-i0 -> m-new0',
      'masters m-i1 -> m-new1',
      'masters m-i2 -> m-new2',
      'workers w-i0 -> w-new0',
      'workers w-i1 -> w-new1',
    ]);
    expect(o.table).toMatch(/\| masters \| m-i0 \(z-a, v1\) \| m-new0 \(z-a, v2\) \|/);
    expect(progress).toMatch(/^\+0m00s preflight ok: version step: 1\.31\.4 -> 1\.32\.1$/m);
    expect(progress).toMatch(
      /masters: m-new0 \(z-a, v2\) appeared: InService, etcd no member; quorum margin 1/,
    );
  });

  it('a refused preflight changes nothing', async () => {
    const f = fakePort({
      masters: group('m', ['1', '1', '1'], '2', ['InService', 'Pending:Wait', 'InService']),
      workers: group('w', ['4'], '5'),
      status: status(),
    });
    const o = await runUpgrade(f.port, req, { timeoutMs: 60_000, pollMs: 1000, onProgress: () => {} });
    expect(o.result).toBe('refused');
    expect(o.message).toMatch(/m-i1 is Pending:Wait/);
    expect(f.calls).toEqual([]);
  });

  it('stays paused while the quorum margin is 0 and times out saying so (nothing rolled back)', async () => {
    const f = fakePort({
      masters: group('m', ['1', '1', '1'], '2'),
      workers: group('w', ['4'], '5'),
      status: status(0),
    });
    await f.port.writeRecord('c', inProgress);
    const o = await runUpgrade(f.port, req, { timeoutMs: 60_000, pollMs: 10_000, onProgress: () => {} });
    expect(o.result).toBe('timed-out');
    expect(o.paused).toBe(true);
    expect(o.message).toMatch(/paused before the next masters refresh: quorum margin 0.*re-run to resume/);
    expect(f.calls.filter((c) => c.startsWith('start'))).toEqual([]);
  });

  it('a refresh started by someone else between look and call is watched, not an error', async () => {
    const f = fakePort({
      masters: group('m', ['1', '1', '1'], '2'),
      workers: group('w', ['4'], '5'),
      status: status(),
    });
    const start = f.port.startRefresh;
    let first = true;
    f.port.startRefresh = async (...a) => {
      if (first) {
        first = false;
        await start(...a); // the other run's refresh
        throw Object.assign(new Error('An Instance Refresh is already in progress'), {
          name: 'InstanceRefreshInProgress',
        });
      }
      return start(...a);
    };
    const { o, progress } = await runToEnd(f.port);
    expect(o.result).toBe('completed');
    expect(progress).toMatch(/masters: a refresh is already in progress .*; watching it/);
  });
});
