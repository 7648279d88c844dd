import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type SnapshotInfo, snapshotKey } from '../../src/heal/backup-policy.js';
import {
  describeRestoreStep,
  planRestore,
  RestoreError,
  snapshotRestoreArgs,
} from '../../src/heal/restore.js';

const T = Date.UTC(2026, 3, 1, 0, 0, 0);
const snap = (minutes: number, rev: number, completed = true): SnapshotInfo => ({
  key: snapshotKey('dr', T + minutes * 60_000, rev),
  time: T + minutes * 60_000,
  revision: rev,
  size: 1000,
  sha256: completed ? 'a'.repeat(64) : undefined,
});
const instances = [
  { instanceId: 'i-b', usable: true, launchTime: 2 },
  { instanceId: 'i-a', usable: true, launchTime: 2 },
  { instanceId: 'i-old', usable: false, launchTime: 1 },
];

describe('restore plan', () => {
  it('picks the newest completed snapshot, the longest-running usable seed, and shrinks to 1 then grows to M', () => {
    const plan = planRestore({
      cluster: 'dr',
      snapshots: [snap(0, 10), snap(15, 20), snap(30, 30, false)],
      expectedMasters: 5,
      instances,
    });
    expect(plan.snapshot.key).toBe(snap(15, 20).key);
    expect(plan.seedInstanceId).toBe('i-a');
    expect(plan.steps.map((s) => s.kind)).toEqual([
      'verify-snapshot',
      'record-restore',
      'shrink-masters',
      'restore-seed',
      'wait-seed-serving',
      'grow-masters',
      'clear-restore',
    ]);
    expect(plan.steps.find((s) => s.kind === 'grow-masters')).toEqual({ kind: 'grow-masters', to: 5 });
    expect(plan.steps.map(describeRestoreStep).join('\n')).toMatch(
      /shrink the master group to 1, keeping i-a/,
    );
  });

  it('uses the snapshot named, and refuses a missing or unfinished one instead of falling back', () => {
    const snapshots = [snap(0, 10), snap(15, 20), snap(30, 30, false)];
    const base = { cluster: 'dr', snapshots, expectedMasters: 3, instances };
    expect(planRestore({ ...base, snapshotKey: snap(0, 10).key }).snapshot.revision).toBe(10);
    expect(() => planRestore({ ...base, snapshotKey: 'dr/nope.db' })).toThrow(
      /snapshot dr\/nope\.db does not exist for cluster dr \(newest: dr\/2026-04-01T00:30:00\.000Z-rev30\.db\)/,
    );
    expect(() => planRestore({ ...base, snapshotKey: snap(30, 30).key })).toThrow(/never completed/);
  });

  it('refuses when there is nothing valid to restore', () => {
    const base = { cluster: 'dr', expectedMasters: 3, instances };
    expect(() => planRestore({ ...base, snapshots: [] })).toThrow(/no snapshots of cluster dr/);
    expect(() => planRestore({ ...base, snapshots: [snap(0, 1, false)] })).toThrow(RestoreError);
    expect(() => planRestore({ ...base, snapshots: [snap(0, 1)], expectedMasters: 4 })).toThrow(/odd/);
  });

  it('ignores other clusters sharing the bucket', () => {
    const other = { ...snap(60, 99), key: snapshotKey('other', T + 3_600_000, 99) };
    expect(
      planRestore({ cluster: 'dr', snapshots: [snap(0, 1), other], expectedMasters: 3, instances }).snapshot
        .revision,
    ).toBe(1);
  });

  it('without a usable instance the group launches a fresh seed', () => {
    const plan = planRestore({ cluster: 'dr', snapshots: [snap(0, 1)], expectedMasters: 3, instances: [] });
    expect(plan.seedInstanceId).toBeUndefined();
  });

  it('always restores a completed snapshot no newer one beats (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ m: fc.nat(10_000), done: fc.boolean() }), {
          selector: (r) => r.m,
          minLength: 1,
          maxLength: 30,
        }),
        (rows) => {
          const snapshots = rows.map((r, i) => snap(r.m, i, r.done));
          const done = snapshots.filter((s) => s.sha256);
          if (done.length === 0) {
            expect(() => planRestore({ cluster: 'dr', snapshots, expectedMasters: 3, instances })).toThrow(
              RestoreError,
            );
            return;
          }
          const plan = planRestore({ cluster: 'dr', snapshots, expectedMasters: 3, instances });
          expect(plan.snapshot.sha256).toBeDefined();
          for (const s of done) expect(s.time).toBeLessThanOrEqual(plan.snapshot.time);
        },
      ),
    );
  });

  it('builds the etcdctl snapshot restore command for a one-member cluster', () => {
    expect(
      snapshotRestoreArgs({
        snapshotPath: '/tmp/s.db',
        expectedSha256: 'x',
        name: 'i-a',
        peerURL: 'https://10.0.1.5:2380',
        dataDir: '/var/lib/etcd',
        clusterToken: 'tripod-restore-1',
      }),
    ).toEqual([
      'snapshot',
      'restore',
      '/tmp/s.db',
      '--name=i-a',
      '--initial-cluster=i-a=https://10.0.1.5:2380',
      '--initial-advertise-peer-urls=https://10.0.1.5:2380',
      '--initial-cluster-token=tripod-restore-1',
      '--data-dir=/var/lib/etcd',
    ]);
  });
});
