/**
 * Rolling upgrades in the simulator: the real reconciler, the simulated instance refresh, the
 * simulator's invariants after every event. 3 and 5 masters, with and without faults mid-upgrade.
 */
import { describe, expect, it } from 'vitest';
import {
  simulateUpgrade,
  simulateUpgradeSeeds,
  type UpgradeFault,
  type UpgradeSimResult,
} from '../../src/sim/upgrade.js';

const explain = (r: UpgradeSimResult) =>
  `seed ${r.seed}: ${[...r.problems, ...r.violations.map((v) => `${v.rule}: ${v.detail}`)].join('; ')}\n${r.lines.join('\n')}`;

function expectSafe(r: UpgradeSimResult, masters: number) {
  expect(r.violations, explain(r)).toEqual([]);
  expect(r.problems, explain(r)).toEqual([]);
  // Surge of one: never more than M+1 voters or live masters at once.
  expect(r.maxVoters).toBeLessThanOrEqual(masters + 1);
  expect(r.maxLive).toBeLessThanOrEqual(masters + 1);
}

describe.each([
  { zones: 3, masters: 3 },
  { zones: 3, masters: 5 },
  { zones: 4, masters: 5 },
])('$masters masters in $zones zones', ({ zones, masters }) => {
  it('upgrades with no fault: every master replaced once, in its own zone, one at a time', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const r = await simulateUpgrade({ seed: seed * 101 + masters, zones, masters });
      expectSafe(r, masters);
      const last = r.outcomes.at(-1);
      expect(last?.result).toBe('completed');
      expect(r.maxVoters).toBe(masters + 1);
      const rows = last?.replacements ?? [];
      expect(rows).toHaveLength(masters);
      for (const row of rows) {
        expect(row.new?.version).toBe('2');
        expect(row.old?.version).toBe('1');
        expect(row.new?.zone).toBe(row.old?.zone);
      }
      expect(r.stats.refreshes).toBe(1);
      expect(r.stats.elections).toBe(0); // leadership is moved, never lost
    }
  });

  const faults: UpgradeFault[][] = [
    ['zone-outage'],
    ['kill-new'],
    ['event-loss'],
    ['cut-off'],
    ['etcd-crash'],
    ['cut-off', 'event-loss'],
  ];
  it.each(faults.map((f) => [f.join('+'), f]))('upgrades through %s', async (_name, f) => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = await simulateUpgrade({
        seed: seed * 7 + masters * 1000 + zones,
        zones,
        masters,
        faults: f as UpgradeFault[],
        faultAfterMs: 60_000 * (1 + seed),
      });
      expectSafe(r, masters);
      expect(r.outcomes.at(-1)?.result).toBe('completed');
    }
  });

  it('aborts mid-upgrade: cancels and refreshes back to the previous launch template', async () => {
    for (let seed = 1; seed <= 3; seed++) {
      // 2 min in: mid-upgrade even for 3 masters (a master is replaced in about a minute).
      const r = await simulateUpgrade({
        seed: seed * 13 + masters,
        zones,
        masters,
        faults: ['abort'],
        faultAfterMs: 2 * 60_000,
      });
      expectSafe(r, masters);
      expect(r.outcomes.at(-1)?.result).toBe('aborted');
      // Mid-refresh: AWS refuses the rollback of a group on $Default, so the refresh is cancelled and
      // a refresh back to version 1 follows; after the refresh: only the refresh back.
      expect(r.lines.join('\n')).toMatch(
        /rollback refused .*\$Default.*cancelling, then refreshing back|abort: \d masters back to launch template version 1/,
      );
      expect(r.lines.join('\n')).toMatch(/abort: \d masters back to launch template version 1/);
    }
  });
});

it('pauses on quorum margin 0 (a zone outage under 3 masters) and says so, then resumes', async () => {
  let paused = 0;
  for (let seed = 1; seed <= 4; seed++) {
    const r = await simulateUpgrade({
      seed,
      zones: 3,
      masters: 3,
      faults: ['zone-outage'],
      faultAfterMs: 90_000,
    });
    expectSafe(r, 3);
    expect(r.outcomes.at(-1)?.result).toBe('completed');
    if (r.lines.some((l) => /paused.*quorum margin 0/.test(l))) paused++;
  }
  expect(paused).toBeGreaterThan(0);
});

it('a cut-off run leaves the refresh running and the re-run resumes it (no second preflight)', async () => {
  const r = await simulateUpgrade({
    seed: 42,
    zones: 3,
    masters: 3,
    faults: ['cut-off'],
    faultAfterMs: 120_000,
  });
  expectSafe(r, 3);
  expect(r.outcomes.map((o) => o.result)).toEqual(['interrupted', 'completed']);
  expect(r.lines.filter((l) => l.includes('preflight ok: version step'))).toHaveLength(1);
  expect(r.stats.refreshes).toBe(1);
});

describe('many seeds, each with its own mix of faults', () => {
  it.each([
    { zones: 3, masters: 3 },
    { zones: 4, masters: 5 },
  ])(
    '$masters masters in $zones zones: 30 seeds keep every invariant and finish',
    async ({ zones, masters }) => {
      const { failed } = await simulateUpgradeSeeds({ zones, masters }, 1000, 30);
      expect(failed.map((r) => `seed ${r.seed} [${r.faults}]: ${explain(r).split('\n')[0]}`)).toEqual([]);
    },
  );
});

describe('workers after the masters', () => {
  it.each([
    { workers: 6, pct: 75 },
    { workers: 4, pct: 90 },
    { workers: 10, pct: 60 },
  ])(
    '$workers workers at min healthy $pct%: in batches that keep the share in service',
    async ({ workers, pct }) => {
      for (let seed = 1; seed <= 3; seed++) {
        const r = await simulateUpgrade({
          seed: seed * 31 + workers,
          masters: 3,
          zones: 3,
          workers,
          workerMinHealthyPercentage: pct,
        });
        expectSafe(r, 3);
        expect(r.outcomes.at(-1)?.result).toBe('completed');
        expect(r.workersAtEnd).toEqual({ total: workers, upgraded: workers });
        // At least one at a time (as AWS does), otherwise never below the minimum healthy share.
        const floor = Math.min(workers - 1, Math.ceil((workers * pct) / 100));
        expect(r.minWorkersInService).toBeGreaterThanOrEqual(floor);
        expect(r.minWorkersInService).toBeLessThan(workers);
        // Masters first: the worker refresh starts after the last old master is gone.
        const lastMaster = r.lines.findLastIndex((l) => /masters: i-\S+ \(\S+, v1\) is gone/.test(l));
        const firstWorker = r.lines.findIndex((l) => /workers: instance refresh \S+ started/.test(l));
        expect(lastMaster).toBeGreaterThan(0);
        expect(firstWorker).toBeGreaterThan(lastMaster);
        expect(r.outcomes.at(-1)?.replacements.filter((x) => x.role === 'workers')).toHaveLength(workers);
      }
    },
  );
});
