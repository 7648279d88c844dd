/**
 * The liveness rule learner-stuck (src/sim/invariants.ts): while the reconciler can act on etcd, a
 * learner whose instance is gone, or whose member has not started by its node's boot timeout, is
 * removed within LEARNER_STUCK_MS. The bug fixed in e934ad4 (an unstarted learner tied to a warm
 * pool instance, blocking every later join) only slowed convergence, which no rule flagged. With
 * e934ad4's roster change reverted, the scenario of sim-ip-reuse's 'e934ad4: ...' test now fails
 * on this rule ("learner ... is still a member: its instance ... is gone") at +22:23, six minutes
 * after the reconciler reaches etcd again; a learner that waits for its node's boot does not.
 */
import { describe, expect, it } from 'vitest';
import type { HealPorts } from '../../src/heal/ports.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { LEARNER_STUCK_MS } from '../../src/sim/invariants.js';
import { simulate } from '../../src/sim/run.js';
import type { Reconciler } from '../../src/sim/stub-reconciler.js';
import { UNSTARTED_LEARNER_FAULTS } from '../support/sim-scenarios.js';

const MIN = 60_000;

/** The timeline's time of a line (+hh:mm:ss.mmm) in ms. */
const at = (line: string | undefined) => {
  const m = /^\+(\d+):(\d+):(\d+)\.(\d+)/.exec(line ?? '');
  if (!m) throw new Error(`no time in ${line}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
};

/** The real reconciler, except that it never removes a learner (etcd's one-learner limit then blocks every join). */
const keepsLearners: Reconciler = (ports, config, opts) => {
  const etcd: HealPorts['etcd'] = {
    ...ports.etcd,
    removeMember: async (ep, id) => {
      const m = (await ports.etcd.listMembers(ep)).find((x) => x.id === id);
      if (m?.isLearner) throw new Error('this reconciler never removes a learner');
      return ports.etcd.removeMember(ep, id);
    },
  };
  return reconcilePass({ ...ports, etcd }, config, opts);
};

describe('learner-stuck', () => {
  /** The e934ad4 scenario: the replacement killed before its etcd starts, etcd cut off 6 min. */
  const e934 = [...UNSTARTED_LEARNER_FAULTS];

  it('catches a learner of a dead master left a member while the reconciler can act', async () => {
    const r = await simulate({
      seed: 19,
      zones: 3,
      masters: 3,
      reconciler: keepsLearners,
      schedule: { faults: e934, end: 20 * MIN },
    });
    const learner = /member (\d+) added as learner/.exec(
      r.timeline.split('\n').find((l) => l > '+00:10' && l.includes('added as learner')) ?? '',
    )?.[1];
    expect(r.violations).toEqual([
      expect.objectContaining({
        rule: 'learner-stuck',
        detail: expect.stringMatching(
          new RegExp(`^learner ${learner} \\(unstarted\\) is still a member: its instance i-\\w+ is gone`),
        ),
      }),
    ]);
    // The clock ran only once the reconciler reached etcd again (+16:20): six minutes after that.
    const [v] = r.violations;
    expect(v?.at).toBeGreaterThan(16 * MIN + 20_000 + LEARNER_STUCK_MS);
    expect(v?.at).toBeLessThan(16 * MIN + 20_000 + LEARNER_STUCK_MS + MIN);
  });

  it('the real reconciler removes it as soon as it reaches etcd again (the e934ad4 scenario is clean)', async () => {
    const r = await simulate({ seed: 19, zones: 3, masters: 3, schedule: { faults: e934, end: 20 * MIN } });
    expect(r.violations).toEqual([]);
  });

  it("does not count a learner waiting for its node's boot, up to the boot timeout", async () => {
    // The replacement's boot hangs silently: its learner, added at once, waits the 900 s boot timeout.
    const r = await simulate({
      seed: 19,
      zones: 3,
      masters: 3,
      schedule: {
        faults: [
          { at: 9 * MIN, kind: 'boot-failure', count: 1, record: false, pick: 0 },
          { at: 10 * MIN, kind: 'kill', pick: 0 },
        ],
        end: 40 * MIN,
      },
    });
    expect(r.violations).toEqual([]);
    const lines = r.timeline.split('\n');
    const added = lines.find((l) => l > '+00:10' && l.includes('added as learner'));
    const id = /member (\d+) added/.exec(added ?? '')?.[1];
    const removed = lines.find((l) => l.includes(`member ${id} (unstarted) removed`));
    // Its boot began a few seconds before the add; the reconciler abandoned it at 900 s, then removed it.
    expect(at(removed) - at(added)).toBeGreaterThan(14 * MIN);
    expect(at(removed) - at(added)).toBeGreaterThan(2 * LEARNER_STUCK_MS);
    expect(r.convergedAfterMs).toBeDefined();
  });
});
