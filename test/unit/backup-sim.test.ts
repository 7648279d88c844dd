/**
 * In the simulator (the real reconcilePass, random faults), with a backup bucket configured:
 *  - every membership change is preceded by a snapshot attempted for it (rule 10);
 *  - backups protect but never block a repair (issue 14, finding 5): when snapshots fail, the
 *    membership changes still happen, each after its failed attempt (a metric and a status line).
 * The reconciler's ports are wrapped to record the order of its calls.
 */
import { describe, expect, it } from 'vitest';
import type { HealPorts } from '../../src/heal/ports.js';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { simulate } from '../../src/sim/run.js';
import type { Reconciler } from '../../src/sim/stub-reconciler.js';

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
          try {
            const r = await backup.snapshot(from, reason);
            calls.push({ kind: 'snapshot', reason, ok: true });
            return r;
          } catch (e) {
            calls.push({ kind: 'snapshot', reason, ok: false }); // the simulator's KMS/S3 faults
            throw e;
          }
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
          covering = c.reason; // attempted; a failed one does not block the change it covers
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

  it('finding 5: membership changes go ahead while snapshots fail, each after its failed attempt', async () => {
    const calls: Call[] = [];
    const r = await simulate({
      seed: 11,
      faults: [],
      reconciler: recording(calls, true),
      convergeWithinMs: 10 * 60_000,
    });
    const changes = calls.filter((c) => c.kind !== 'snapshot');
    expect(changes.length).toBeGreaterThan(0);
    calls.forEach((c, k) => {
      if (c.kind !== 'snapshot' && calls[k - 1]?.kind !== c.kind) {
        expect(calls[k - 1]).toMatchObject({
          kind: 'snapshot',
          ok: false,
          reason: new RegExp(`^before ${c.kind}`),
        });
      }
    });
    expect(r.violations).toEqual([]);
    expect(r.ok).toBe(true); // the cluster grows past its seed without backups
  });
});
