/**
 * Issue 14: the simulator throws what production throws. One deterministic scenario per finding of
 * the review, each run with the real reconcilePass in the simulated cloud (backups configured, the
 * node watchdog as the shipped scripts define it, Lambda's 120 s timeout), each asserting that every
 * invariant holds and the cluster converges. The faults, the budget and the invariants themselves
 * are tested below them.
 */
import { describe, expect, it } from 'vitest';
import { quorumOf } from '../../src/cluster-spec/topology.js';
import {
  FAULT_KINDS,
  generateSchedule,
  LEGACY_FAULT_KINDS,
  parseFaults,
  type ScheduledFault,
} from '../../src/sim/faults.js';
import { watchdogModel } from '../../src/sim/node.js';
import { Random } from '../../src/sim/random.js';
import { type SimulationResult, simulate } from '../../src/sim/run.js';

const MIN = 60_000;

/** Three masters in three zones, these faults, the faults stopping at `endMin`. */
const scenario = (seed: number, faults: ScheduledFault[], endMin: number, masters = 3) =>
  simulate({ seed, zones: 3, masters, schedule: { faults, end: endMin * MIN } });

const broken = (r: SimulationResult) => r.violations.map((v) => `${v.rule}: ${v.detail}`);

/** One scenario per finding: its faults, when they stop, and a line the timeline must show. */
interface Finding {
  name: string;
  seed: number;
  faults: ScheduledFault[];
  endMin: number;
  timeline?: string;
}

const FINDINGS: Finding[] = [
  {
    name: '1: a healthy master terminated while snapshots fail (KMS key disabled) keeps its hook until its member is removed',
    seed: 1401,
    faults: [
      { at: 5 * MIN, kind: 'snapshot-fail', durationMs: 40 * MIN, pick: 0 },
      { at: 10 * MIN, kind: 'terminate-healthy', cause: 'operator', pick: 0 },
    ],
    endMin: 45,
  },
  {
    name: '2: a voter cut off from its peers (2380) but reachable by the reconciler is not counted healthy',
    seed: 1402,
    faults: [
      { at: 10 * MIN, kind: 'peer-cut', durationMs: 15 * MIN, pick: 0 },
      { at: 11 * MIN, kind: 'terminate-healthy', cause: 'operator', pick: 1 },
    ],
    endMin: 26,
  },
  {
    name: '3a: etcd unreachable from the reconciler while a master terminates: its hook is still heartbeated',
    seed: 1403,
    faults: [
      { at: 10 * MIN, kind: 'etcd-unreachable', durationMs: 15 * MIN, pick: 0 },
      { at: 11 * MIN, kind: 'terminate-healthy', cause: 'instance-refresh', pick: 0 },
    ],
    endMin: 26,
  },
  {
    name: '3b: etcd crash-looping on every master for minutes: the watchdog replaces no master, no voter loses its data',
    seed: 1404,
    faults: [{ at: 10 * MIN, kind: 'crash-loop', durationMs: 8 * MIN, pick: 0 }],
    endMin: 18,
    timeline: 'etcd crash-loops on every master',
  },
  {
    name: '4: one etcd dead for good, then a healthy master terminated: the dead member is replaced first, then the other removed',
    seed: 1405,
    faults: [
      { at: 10 * MIN, kind: 'etcd-crash', permanent: true, pick: 0 },
      { at: 11 * MIN, kind: 'terminate-healthy', cause: 'operator', pick: 1 },
    ],
    endMin: 12,
  },
  {
    name: '5: slow snapshots (a large database, past the 120 s function timeout) do not starve the heartbeats',
    seed: 1406,
    faults: [
      { at: 5 * MIN, kind: 'snapshot-slow', durationMs: 40 * MIN, slowMs: 300_000, pick: 0 },
      { at: 10 * MIN, kind: 'terminate-healthy', cause: 'health-check', pick: 0 },
    ],
    endMin: 45,
  },
];

describe('issue 14 findings, one scenario each (invariants must hold)', () => {
  for (const { name, seed, faults, endMin, timeline } of FINDINGS)
    it(name, async () => {
      const r = await scenario(seed, faults, endMin);
      expect(broken(r)).toEqual([]);
      if (timeline) expect(r.timeline).toContain(timeline);
    });
});

describe('the new faults', () => {
  it('are all known to --faults and drawn by the generator', () => {
    expect(parseFaults(FAULT_KINDS.join(','))).toEqual([...FAULT_KINDS]);
    const drawn = new Set<string>();
    for (let seed = 1; seed <= 300; seed++)
      for (const f of generateSchedule(new Random(seed), FAULT_KINDS, 3).faults) drawn.add(f.kind);
    for (const k of FAULT_KINDS) expect(drawn, k).toContain(k);
    expect(LEGACY_FAULT_KINDS.every((k) => (FAULT_KINDS as readonly string[]).includes(k))).toBe(true);
  });

  it('start no destructive fault before the first cluster could form after an early etcd-unreachable (simulate --seed 97)', () => {
    let early = 0;
    for (const masters of [3, 5, 7]) {
      for (let seed = 1; seed <= 2000; seed++) {
        const { faults } = generateSchedule(new Random(seed), FAULT_KINDS, 3, 6, masters);
        const destructive = faults.filter(
          (f) => (f.slots ?? 0) > 0 || f.kind === 'terminate-healthy' || f.kind === 'crash-loop',
        );
        for (const cut of faults.filter((f) => f.kind === 'etcd-unreachable' && f.at < 10 * MIN)) {
          early++;
          const formed = cut.at + (cut.durationMs ?? 0) + 6 * MIN;
          for (const d of destructive)
            expect(d.at, `seed ${seed}, ${masters} masters`).toBeGreaterThanOrEqual(formed);
        }
      }
    }
    expect(early).toBeGreaterThan(0);
  });

  it('count a healthy master terminated as a voter taken, healed only after the reconciler reaches etcd again (simulate --seed 786, 814, 1238, 1379, 1558, 1733)', () => {
    let checked = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      // 3 masters: tolerance 1, so destructive faults never overlap their holds.
      const { faults } = generateSchedule(new Random(seed), FAULT_KINDS, 3, 6, 3);
      const destructive = faults.filter((f) => (f.slots ?? 0) > 0);
      const terminations = faults.filter((f) => f.kind === 'terminate-healthy');
      expect(terminations.every((f) => f.slots === 1)).toBe(true);
      const cuts = faults.filter((f) => f.kind === 'etcd-unreachable');
      for (const [i, a] of destructive.entries()) {
        let until = a.at + (a.durationMs ?? 0) + 20 * MIN;
        for (const c of cuts)
          if (c.at < until && a.at < c.at + (c.durationMs ?? 0))
            until = Math.max(until, c.at + (c.durationMs ?? 0) + 20 * MIN);
        for (const b of destructive.slice(i + 1)) {
          checked++;
          expect(b.at, `seed ${seed}: ${b.kind} inside the hold of ${a.kind}`).toBeGreaterThanOrEqual(until);
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('keep the voter of a destructive fault held while failing boots are still to come (simulate --seed 508, 610)', async () => {
    let checked = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const { faults } = generateSchedule(new Random(seed), FAULT_KINDS, 3, 6, 3);
      const destructive = faults.filter((f) => (f.slots ?? 0) > 0);
      for (const bf of faults.filter((f) => f.kind === 'boot-failure')) {
        const delay = (bf.count ?? 1) * (bf.record ? 5 : 20) * MIN;
        // The first destructive fault that a replacement boot after the boot failure heals.
        const i = destructive.findIndex((a) => a.at + (a.durationMs ?? 0) + 20 * MIN > bf.at);
        const a = destructive[i];
        const b = destructive[i + 1];
        if (!a || !b) continue;
        checked++;
        expect(
          b.at,
          `seed ${seed}: ${b.kind} before the failing boots healed ${a.kind}`,
        ).toBeGreaterThanOrEqual(a.at + (a.durationMs ?? 0) + 20 * MIN + delay);
      }
    }
    expect(checked).toBeGreaterThan(0);
    // The seed that found it: two silent boot failures kept a zone outage's voter missing for half
    // an hour, and a kill then took quorum (the generator had counted the voter healed after 20 min).
    const r = await simulate({ seed: 508, zones: 3, masters: 3 });
    expect(broken(r)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('overlap destructive faults only within the fault tolerance (M - quorum)', () => {
    let overlapped = 0;
    for (const masters of [3, 5, 7]) {
      const tolerance = masters - quorumOf(masters);
      for (let seed = 1; seed <= 300; seed++) {
        const { faults, end } = generateSchedule(new Random(seed), FAULT_KINDS, 3, 6, masters);
        const holds = faults
          .filter((f) => (f.slots ?? 0) > 0)
          .map((f) => ({ from: f.at, until: f.at + (f.durationMs ?? 0) + 20 * MIN, slots: f.slots ?? 0 }));
        for (const h of holds) {
          expect(h.from).toBeGreaterThanOrEqual(10 * MIN);
          const used = holds.filter((o) => o.from <= h.from && h.from < o.until);
          const sum = used.reduce((n, o) => n + o.slots, 0);
          if (used.length > 1) {
            overlapped++;
            expect(sum, `seed ${seed}, ${masters} masters`).toBeLessThanOrEqual(tolerance);
          }
        }
        for (const f of faults) expect(f.at).toBeLessThanOrEqual(end);
      }
    }
    // With 5 and 7 masters destructive faults do overlap; with 3 (tolerance 1) never.
    expect(overlapped).toBeGreaterThan(0);
  });

  it('model the watchdog the shipped scripts install on masters', () => {
    const w = watchdogModel();
    expect(w.intervalMs).toBe(30_000);
    expect(w.failures).toBeGreaterThan(0);
    // A stand-in script: a watchdog that only restarts services never reports.
    const tame = watchdogModel({
      'master.sh': 'install_watchdog containerd kubelet\n',
      'lib.sh': "watchdog_check() {\n  systemctl restart x\n}\nwrite_timer tripod-watchdog 'x' 30s y\n",
    });
    expect(tame).toMatchObject({ watchesEtcd: false, reportsUnhealthy: false });
  });

  it('read the role condition of watchdog_check: a master never reports itself Unhealthy, a worker does', () => {
    expect(watchdogModel()).toMatchObject({
      watchesEtcd: true,
      reportsUnhealthy: false,
      workerReportsUnhealthy: true,
    });
    const lib = (body: string) =>
      `watchdog_check() {\n${body}}\nreport_unhealthy() {\n  aws autoscaling set-instance-health --instance-id x \\\n    --health-status Unhealthy\n}\nwrite_timer tripod-watchdog 'x' 30s y\n`;
    const model = (body: string) =>
      watchdogModel({ 'master.sh': 'install_watchdog containerd kubelet etcd\n', 'lib.sh': lib(body) });
    // The report through a function, on the master's path: the model must see it (stricter, not kinder).
    const branch = (role: string, op = '=') =>
      `  if [ "\${TRIPOD_ROLE:-}" ${op} ${role} ]; then\n    report_unhealthy\n  else\n    log "still restarting"\n  fi\n`;
    expect(model(branch('master'))).toMatchObject({ reportsUnhealthy: true, workerReportsUnhealthy: false });
    expect(model(branch('worker'))).toMatchObject({ reportsUnhealthy: false, workerReportsUnhealthy: true });
    expect(model(branch('master', '!='))).toMatchObject({
      reportsUnhealthy: false,
      workerReportsUnhealthy: true,
    });
    expect(model('  report_unhealthy\n')).toMatchObject({
      reportsUnhealthy: true,
      workerReportsUnhealthy: true,
    });
  });
});

describe('the new invariants catch what they name', () => {
  it('a terminated healthy master whose hook nobody holds: hook-default-result and voter-terminated', async () => {
    // A reconciler that does nothing at all: AWS's default result applies.
    const idle = async () => undefined;
    const r = await simulate({
      seed: 1410,
      zones: 3,
      masters: 3,
      reconciler: async (ports, config) => {
        // Let the stand-in seed the cluster first: the real pass until 10 min, then nothing.
        if (ports.clock.now() - Date.UTC(2026, 0, 1) < 10 * MIN) {
          const { reconcilePass } = await import('../../src/heal/reconcile.js');
          return reconcilePass(ports, config);
        }
        return idle();
      },
      schedule: {
        faults: [{ at: 11 * MIN, kind: 'terminate-healthy', cause: 'operator', pick: 0 }],
        end: 25 * MIN,
      },
      convergeWithinMs: 20 * MIN,
    });
    const rules = r.violations.map((v) => v.rule);
    expect(rules).toContain('hook-default-result');
    expect(rules).toContain('voter-terminated');
    const v = r.violations.find((x) => x.rule === 'voter-terminated');
    expect(v?.detail).toMatch(
      /terminated by the group \(its terminating hook was not heartbeated: default CONTINUE\)/,
    );
  });
});
