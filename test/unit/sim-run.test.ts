/**
 * Seeded fault testing of the real reconciler (src/heal reconcilePass, unchanged) in the simulator:
 * determinism, a fixed set of seeds over every fault, and proof that the invariants can fail.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MEMBER_STARTED_REPEAT_MS } from '../../src/contract/protocol.js';
import type { Action } from '../../src/heal/actions.js';
import { decide } from '../../src/heal/decide.js';
import { execute } from '../../src/heal/execute.js';
import { observe } from '../../src/heal/observe.js';
import { isHealthyVoter } from '../../src/heal/quorum.js';
import { generateSchedule, LEGACY_FAULT_KINDS } from '../../src/sim/faults.js';
import { Random } from '../../src/sim/random.js';
import { simulate, simulateSeeds } from '../../src/sim/run.js';
import { type Reconciler, stubReconciler } from '../../src/sim/stub-reconciler.js';

describe('simulate', () => {
  it('replays a seed identically and different seeds differently', async () => {
    const a = await simulate({ seed: 11 });
    const b = await simulate({ seed: 11 });
    const c = await simulate({ seed: 12 });
    expect(a.timeline).toBe(b.timeline);
    expect(a.timeline.split('\n').length).toBeGreaterThan(30);
    expect(c.timeline).not.toBe(a.timeline);
  });

  it('converges from nothing to M voters spread over the zones with no faults', async () => {
    for (const zones of [1, 2, 3, 4, 5]) {
      const r = await simulate({ seed: 100 + zones, zones, faults: [] });
      expect(r.violations).toEqual([]);
      expect(r.ok).toBe(true);
    }
  });

  it('a new master nudges the reconciler with "Member Started" while a learner: promoted within seconds, nudges stop then', async () => {
    const at = (l: string) => {
      const [h, m, sec] = l.slice(1, 13).split(':').map(Number);
      return ((h! * 60 + m!) * 60 + sec!) * 1000;
    };
    let learners = 0;
    for (let seed = 1; seed <= 5; seed++) {
      const r = await simulate({ seed: 300 + seed, zones: 3, faults: [] });
      expect(r.ok).toBe(true);
      const lines = r.timeline.split('\n');
      const memberOf = new Map<string, string>(); // instance -> member id
      for (const l of lines) {
        const m = /member (\d+) \((i-[0-9a-f]+)\) started as learner/.exec(l);
        if (m) memberOf.set(m[2]!, m[1]!);
      }
      for (const [instance, member] of memberOf) {
        learners++;
        const started = lines.find((l) => l.includes(`${instance} member started: event 1 sent`));
        const promoted = lines.find((l) => l.includes(`member ${member} (${instance}) promoted to voter`));
        expect(started, `${instance} sent no Member Started (seed ${300 + seed})`).toBeDefined();
        expect(promoted).toBeDefined();
        // The reconciler's part: the nudge, then at most one repeat (a promotion tried too early).
        expect(at(promoted!) - at(started!)).toBeLessThan(MEMBER_STARTED_REPEAT_MS * 2);
        const lastNudge = lines.filter((l) => l.includes(`${instance} member started: event`)).at(-1)!;
        expect(at(lastNudge)).toBeLessThanOrEqual(at(promoted!));
      }
    }
    expect(learners).toBeGreaterThanOrEqual(10);
  });

  it('draws fault schedules that keep destructive faults apart (3 masters tolerate one) and stop', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { faults, end } = generateSchedule(new Random(seed), LEGACY_FAULT_KINDS, 3);
      const destructive = faults.filter(
        (f) => f.kind === 'kill' || f.kind === 'zone-outage' || (f.kind === 'etcd-crash' && f.permanent),
      );
      for (let i = 1; i < destructive.length; i++) {
        const prev = destructive[i - 1];
        const cur = destructive[i];
        if (!prev || !cur) continue;
        expect(cur.at - (prev.at + (prev.durationMs ?? 0))).toBeGreaterThanOrEqual(20 * 60_000);
      }
      for (const f of destructive) expect(f.at).toBeGreaterThanOrEqual(10 * 60_000);
      for (const f of faults) expect(f.at).toBeLessThanOrEqual(end);
      expect(
        generateSchedule(new Random(seed), LEGACY_FAULT_KINDS, 2).faults.some(
          (f) => f.kind === 'zone-outage',
        ),
      ).toBe(false);
    }
  });

  it('passes every invariant on a fixed set of 200 seeds over the pre-issue-14 faults (3 and 5 zones)', async () => {
    const three = await simulateSeeds({ zones: 3, faults: LEGACY_FAULT_KINDS }, 1, 150);
    const five = await simulateSeeds({ zones: 5, faults: LEGACY_FAULT_KINDS }, 1001, 50);
    const failed = [...three.failed, ...five.failed];
    expect(
      failed.map((r) => `seed ${r.seed}: ${r.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`),
    ).toEqual([]);
  });
});

describe('random cluster shapes and fault mixes', () => {
  it('hold every invariant (zones 1-6, 3-9 masters, any subset of faults)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(undefined, 3, 5, 7, 9),
        fc.subarray([...LEGACY_FAULT_KINDS]),
        async (seed, zones, masters, faults) => {
          const r = await simulate({ seed, zones, masters, faults });
          if (!r.ok)
            throw new Error(`seed ${seed}: ${r.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('the invariants catch a wrong reconciler', () => {
  it('catches adding a member while a dead voter is still in the cluster (rule 2)', async () => {
    const broken = stubReconciler({ addBeforeRemovingDead: true });
    const r = await simulate({ seed: 5, faults: ['kill'], reconciler: broken });
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.rule)).toContain('remove-dead-first');
    expect(r.timeline).toContain('VIOLATION');
    // The same stand-in without the defect passes the same seed.
    expect((await simulate({ seed: 5, faults: ['kill'], reconciler: stubReconciler() })).ok).toBe(true);
  });

  it('catches the real observe/execute with a decide that removes a healthy voter', async () => {
    // decide, plus one wrong action: once the cluster is whole, remove a healthy non-leader voter.
    const wrongDecide: Reconciler = async (ports, config) => {
      const { observed } = await observe(ports, config);
      const decision = decide(observed, config, ports.clock.now());
      const victim = observed.etcd.members.find(
        (m) => isHealthyVoter(m, observed.etcd) && m.id !== observed.etcd.leaderId,
      );
      const voters = observed.etcd.members.filter((m) => isHealthyVoter(m, observed.etcd)).length;
      const actions: Action[] = [...decision.actions];
      if (victim && voters === config.expectedMasters) {
        actions.push({
          kind: 'remove-member',
          memberId: victim.id,
          name: victim.name,
          reason: 'deliberately wrong',
        });
      }
      return execute(actions, ports, config, observed);
    };
    const r = await simulate({ seed: 9, faults: [], reconciler: wrongDecide });
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.rule)).toContain('healthy-voter-removed');
  });
});
