/**
 * The simulated reconciler Lambda models production (contract/reconciler-package.ts, reconciler-handler.ts):
 *  - a pass's backup port only requests a snapshot (it never streams one inside the pass);
 *  - the snapshot runs in an invocation of its own that shares the one concurrency slot with the
 *    passes (queued like Lambda's asynchronous events) and has the same 120 s timeout;
 *  - a pass gets the invocation's remaining time (`remainingMs`) from the simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SIM_EPOCH } from '../../src/sim/clock.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { TIMEOUT_MS } from '../../src/sim/lambda.js';
import { simulate, zoneNames } from '../../src/sim/run.js';
import type { Reconciler } from '../../src/sim/stub-reconciler.js';

const MIN = 60_000;

interface Seen {
  passes: Array<{ start: number; remaining: number | undefined }>;
  snapshots: unknown[];
}

function recording(seen: Seen): Reconciler {
  return async (ports, config, options) => {
    seen.passes.push({ start: ports.clock.now(), remaining: options?.remainingMs?.() });
    const backup = ports.backup;
    return reconcilePass(
      {
        ...ports,
        ...(backup
          ? {
              backup: {
                snapshot: async (from, reason) => {
                  const r = await backup.snapshot(from, reason);
                  seen.snapshots.push(r);
                  return r;
                },
              },
            }
          : {}),
      },
      config,
      options,
    );
  };
}

/** Elapsed times (ms) of the timeline lines matching `re`. */
const at = (timeline: string, re: RegExp): number[] =>
  timeline
    .split('\n')
    .filter((l) => re.test(l))
    .map((l) => {
      const [h, m, s] = l.slice(1, l.indexOf(' ')).split(':').map(Number);
      return ((h! * 60 + m!) * 60 + s!) * 1000;
    });

describe('the simulated reconciler Lambda', () => {
  it('a pass only requests snapshots and knows its remaining time', async () => {
    const seen: Seen = { passes: [], snapshots: [] };
    const r = await simulate({
      seed: 7,
      masters: 3,
      reconciler: recording(seen),
      schedule: { faults: [{ at: 12 * MIN, kind: 'kill', pick: 0 }], end: 15 * MIN },
    });
    expect(r.violations).toEqual([]);
    expect(seen.snapshots.length).toBeGreaterThan(0);
    for (const s of seen.snapshots) expect(s).toHaveProperty('requested');
    // The remaining time comes from the simulated clock: the whole timeout at the start of a pass.
    for (const p of seen.passes) {
      expect(p.remaining).toBeDefined();
      expect(p.remaining!).toBeLessThanOrEqual(TIMEOUT_MS);
      expect(p.remaining!).toBeGreaterThan(TIMEOUT_MS - 1_000);
    }
    // The snapshots themselves ran in invocations of their own.
    expect(r.timeline).toMatch(/lambda +snapshot \(before add i-\w+ as a learner\): sim\/\S+-rev\d+\.db/);
  });

  it('a snapshot invocation holds the one concurrency slot and is stopped at the timeout', async () => {
    const seen: Seen = { passes: [], snapshots: [] };
    const r = await simulate({
      seed: 8,
      masters: 3,
      reconciler: recording(seen),
      schedule: {
        faults: [{ at: 5 * MIN, kind: 'snapshot-slow', durationMs: 30 * MIN, slowMs: 400_000, pick: 0 }],
        end: 35 * MIN,
      },
    });
    expect(r.violations).toEqual([]);
    const timeouts = at(r.timeline, /snapshot invocation timed out after 120 s/);
    expect(timeouts.length).toBeGreaterThan(0);
    const starts = seen.passes.map((p) => p.start - SIM_EPOCH);
    for (const t of timeouts) {
      // No pass ran while the snapshot invocation held the slot (reserved concurrency 1).
      expect(starts.filter((s) => s > t - TIMEOUT_MS && s < t)).toEqual([]);
    }
  });
});

describe('AWS calls in the simulator', () => {
  it('are retried like the SDK does (throttling and 5xx, 3 attempts): a 50 % fault rate fails about 1 call in 8, not 1 in 2 (a zones-1/9-masters shape whose every pass failed at observe)', async () => {
    const cloud = new SimCloud({ seed: 3, zones: zoneNames(3), masters: 3 });
    const k = cloud.k;
    cloud.apiFaults.degrade(k.now() + 3_600_000, 0.5);
    const ports = cloud.ports({ crashAfter: undefined, mutations: 0, dead: false, onCrash: () => {} });
    const n = 400;
    let done = 0;
    let failed = 0;
    for (let i = 0; i < n; i++) {
      k.spawn(
        () => ports.parameters.get('/tripod/sim/x'),
        (r) => {
          done++;
          if (!r.ok) failed++;
        },
      );
    }
    await k.runUntil(k.now() + 600_000, () => done === n);
    expect(done).toBe(n);
    expect(failed / n).toBeGreaterThan(0.05);
    expect(failed / n).toBeLessThan(0.2);
  });
});
