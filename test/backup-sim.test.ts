/**
 * In the simulator (the real reconcilePass, random faults), with a backup bucket configured:
 *  - every membership change is preceded by a snapshot taken for it (rule 10);
 *  - when snapshots fail, no membership change happens at all (never a silent skip).
 * The reconciler's ports are wrapped to record the order of its calls.
 */
import { describe, expect, it } from 'vitest';
import type { HealPorts } from '../src/heal/ports.js';
import { reconcilePass } from '../src/heal/reconcile.js';
import { simulate } from '../src/sim/run.js';
import type { Reconciler } from '../src/sim/stub-reconciler.js';

type Call =
  | { kind: 'snapshot'; reason: string; ok: boolean }
  | { kind: 'add' | 'promote' | 'remove'; target: string };

function recording(calls: Call[], failSnapshots = false): Reconciler {
  return (ports, config) => {
    const backup = ports.backup;
    const wrapped: HealPorts = {
      ...ports,
      etcd: {
        ...ports.etcd,
        addLearner: (ep, peer) => {
          calls.push({ kind: 'add', target: peer });
          return ports.etcd.addLearner(ep, peer);
        },
        promoteMember: (ep, id) => {
          calls.push({ kind: 'promote', target: id });
          return ports.etcd.promoteMember(ep, id);
        },
        removeMember: (ep, id) => {
          calls.push({ kind: 'remove', target: id });
          return ports.etcd.removeMember(ep, id);
        },
      },
      backup: {
        snapshot: async (from, reason) => {
          if (failSnapshots || !backup) {
            calls.push({ kind: 'snapshot', reason, ok: false });
            throw new Error('backup of etcd to s3://sim-backups failed: AccessDenied');
          }
          const r = await backup.snapshot(from, reason);
          calls.push({ kind: 'snapshot', reason, ok: true });
          return r;
        },
      },
    };
    return reconcilePass(wrapped, { ...config, backupBucket: 'sim-backups' });
  };
}

describe('backups in the simulator', () => {
  it('takes a snapshot before every membership change, across seeds and faults', async () => {
    let changes = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const calls: Call[] = [];
      const r = await simulate({ seed, reconciler: recording(calls) });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      let covering: string | undefined;
      let previous: string | undefined;
      for (const c of calls) {
        if (c.kind === 'snapshot') {
          if (c.ok) covering = c.reason;
          previous = undefined;
          continue;
        }
        // The executor sends one change to the next serving member when one answers "unavailable"
        // (e.g. etcd's strict reconfig check): those attempts are the same change, covered once.
        const key = `${c.kind} ${c.target}`;
        if (key === previous) continue;
        previous = key;
        changes++;
        expect(covering, `seed ${seed}: ${c.kind} ${c.target} without a snapshot before it`).toBeDefined();
        expect(covering, `seed ${seed}: ${c.kind} ${c.target}`).toMatch(new RegExp(`^before ${c.kind}\\b`));
        if (c.kind !== 'add') expect(covering).toContain(c.target);
        covering = undefined; // one snapshot covers one change
      }
    }
    expect(changes).toBeGreaterThan(6);
  });

  it('makes no membership change while snapshots fail', async () => {
    const calls: Call[] = [];
    const r = await simulate({
      seed: 11,
      faults: [],
      reconciler: recording(calls, true),
      convergeWithinMs: 10 * 60_000,
    });
    expect(calls.filter((c) => c.kind !== 'snapshot')).toEqual([]);
    expect(calls.filter((c) => c.kind === 'snapshot').length).toBeGreaterThan(3); // retried every pass
    expect(r.ok).toBe(false); // the cluster cannot grow past its seed without backups: said, not skipped
  });
});
