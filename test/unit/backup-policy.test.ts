import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isBackupDue,
  KEEP_ALL_MS,
  manifestKey,
  newestSnapshot,
  nextBackupInMs,
  parseSnapshotKey,
  type SnapshotRef,
  snapshotKey,
  snapshotsToDelete,
} from '../../src/heal/backup-policy.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

const clusterName = fc.stringMatching(/^[a-z][a-z0-9-]{0,18}[a-z0-9]$/);
const time = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) });
const revision = fc.integer({ min: 0, max: 2 ** 40 });

/** Snapshots spread over the 60 days before `now` (and a few in the future, clock skew). */
const snapshotSet = (now: number) =>
  fc
    .uniqueArray(fc.integer({ min: -60 * DAY, max: HOUR }), { maxLength: 80 })
    .map((offsets) =>
      offsets.map(
        (o, i): SnapshotRef => ({ key: snapshotKey('c', now + o, i + 1), time: now + o, revision: i + 1 }),
      ),
    );

describe('snapshot keys', () => {
  it('names a snapshot <cluster>/<ISO time>-rev<revision>.db', () => {
    expect(snapshotKey('demo-eu', Date.UTC(2026, 0, 1, 0, 15), 4711)).toBe(
      'demo-eu/2026-01-01T00:15:00.000Z-rev4711.db',
    );
    expect(manifestKey('demo-eu/x.db')).toBe('demo-eu/x.db.manifest.json');
  });

  it('parses back what it names (property)', () => {
    fc.assert(
      fc.property(clusterName, time, revision, (c, t, r) => {
        expect(parseSnapshotKey(snapshotKey(c, t, r))).toEqual({
          cluster: c,
          key: snapshotKey(c, t, r),
          time: t,
          revision: r,
        });
      }),
    );
  });

  it('sorts keys of one cluster in time order (property)', () => {
    fc.assert(
      fc.property(clusterName, time, time, revision, revision, (c, t1, t2, r1, r2) => {
        fc.pre(t1 < t2);
        expect(snapshotKey(c, t1, r1) < snapshotKey(c, t2, r2)).toBe(true);
      }),
    );
  });

  it('ignores manifests and stray objects', () => {
    expect(parseSnapshotKey('demo/2026-01-01T00:15:00.000Z-rev1.db.manifest.json')).toBeUndefined();
    expect(parseSnapshotKey('demo/notes.txt')).toBeUndefined();
    expect(parseSnapshotKey('2026-01-01T00:15:00.000Z-rev1.db')).toBeUndefined();
  });

  it('rejects a bad revision or time', () => {
    expect(() => snapshotKey('c', T0, -1)).toThrow(/revision/);
    expect(() => snapshotKey('c', Number.NaN, 1)).toThrow(/time/);
  });
});

describe('retention', () => {
  it('keeps all from the last 48 h, then the newest of each day for 30 days', () => {
    const at = (hoursAgo: number, rev: number): SnapshotRef => ({
      key: snapshotKey('c', T0 - hoursAgo * HOUR, rev),
      time: T0 - hoursAgo * HOUR,
      revision: rev,
    });
    // T0 is 12:00 UTC. 50 h and 51 h ago are the same UTC day (10:00 and 09:00, 2 days back).
    const s = [at(1, 10), at(47, 9), at(50, 8), at(51, 7), at(24 * 10, 6), at(24 * 31, 5)];
    expect(snapshotsToDelete(s, T0, 30)).toEqual([s[5]!.key, s[3]!.key]);
  });

  it('keeps all of the last 48 h even with a retention of 1 day', () => {
    const day1: SnapshotRef = { key: snapshotKey('c', T0 - 30 * HOUR, 2), time: T0 - 30 * HOUR, revision: 2 };
    const now: SnapshotRef = { key: snapshotKey('c', T0, 3), time: T0, revision: 3 };
    const day3: SnapshotRef = { key: snapshotKey('c', T0 - 50 * HOUR, 1), time: T0 - 50 * HOUR, revision: 1 };
    expect(snapshotsToDelete([day1, now, day3], T0, 1)).toEqual([day3.key]);
  });

  it('always keeps the newest snapshot, however old', () => {
    const old: SnapshotRef = { key: snapshotKey('c', T0 - 400 * DAY, 1), time: T0 - 400 * DAY, revision: 1 };
    const older: SnapshotRef = {
      key: snapshotKey('c', T0 - 401 * DAY, 0),
      time: T0 - 401 * DAY,
      revision: 0,
    };
    expect(snapshotsToDelete([old, older], T0, 30)).toEqual([older.key]);
  });

  it('rejects a retention below one day', () => {
    expect(() => snapshotsToDelete([], T0, 0)).toThrow(/retentionDays/);
  });

  it('deletes only known keys and never the newest (property)', () => {
    fc.assert(
      fc.property(snapshotSet(T0), fc.integer({ min: 1, max: 60 }), (snaps, days) => {
        const doomed = snapshotsToDelete(snaps, T0, days);
        const keys = new Set(snaps.map((s) => s.key));
        for (const k of doomed) expect(keys.has(k)).toBe(true);
        expect(new Set(doomed).size).toBe(doomed.length);
        const newest = newestSnapshot(snaps);
        if (newest) expect(doomed).not.toContain(newest.key);
      }),
    );
  });

  // A retention of 1 day does not cut into the 48 hours kept in full: the longer of the two wins.
  it('keeps everything younger than 48 h and nothing older than max(48 h, retention) but the newest (property)', () => {
    fc.assert(
      fc.property(snapshotSet(T0), fc.integer({ min: 1, max: 60 }), (snaps, days) => {
        const doomed = new Set(snapshotsToDelete(snaps, T0, days));
        const newest = newestSnapshot(snaps);
        for (const s of snaps) {
          if (T0 - s.time < KEEP_ALL_MS) expect(doomed.has(s.key)).toBe(false);
          const horizon = Math.max(KEEP_ALL_MS, days * DAY);
          if (T0 - s.time >= horizon && s !== newest) expect(doomed.has(s.key)).toBe(true);
        }
      }),
    );
  });

  it('keeps exactly one per UTC day between 48 h and the retention: the newest of that day (property)', () => {
    fc.assert(
      fc.property(snapshotSet(T0), fc.integer({ min: 3, max: 60 }), (snaps, days) => {
        const doomed = new Set(snapshotsToDelete(snaps, T0, days));
        const newest = newestSnapshot(snaps);
        const byDay = new Map<number, SnapshotRef[]>();
        for (const s of snaps) {
          const age = T0 - s.time;
          if (age < KEEP_ALL_MS || age >= days * DAY || s === newest) continue;
          const d = Math.floor(s.time / DAY);
          byDay.set(d, [...(byDay.get(d) ?? []), s]);
        }
        for (const group of byDay.values()) {
          expect(group.filter((s) => !doomed.has(s.key))).toEqual([newestSnapshot(group)]);
        }
      }),
    );
  });

  it('is idempotent: pruning what is left deletes nothing more (property)', () => {
    fc.assert(
      fc.property(snapshotSet(T0), fc.integer({ min: 1, max: 60 }), (snaps, days) => {
        const doomed = new Set(snapshotsToDelete(snaps, T0, days));
        const left = snaps.filter((s) => !doomed.has(s.key));
        expect(snapshotsToDelete(left, T0, days)).toEqual([]);
      }),
    );
  });
});

describe('backup schedule', () => {
  it('is due with no snapshot yet, and once an interval has passed', () => {
    expect(isBackupDue(undefined, T0, 15)).toBe(true);
    expect(isBackupDue(T0 - 14 * 60_000, T0, 15)).toBe(false);
    expect(isBackupDue(T0 - 15 * 60_000, T0, 15)).toBe(true);
    expect(nextBackupInMs(T0 - 14 * 60_000, T0, 15)).toBe(60_000);
    expect(nextBackupInMs(undefined, T0, 15)).toBe(0);
    expect(() => isBackupDue(T0, T0, 0)).toThrow(/interval/);
  });

  it('due exactly when the newest snapshot is at least one interval old (property)', () => {
    fc.assert(
      fc.property(
        time,
        fc.integer({ min: 0, max: 10 * DAY }),
        fc.integer({ min: 5, max: 1440 }),
        (last, age, min) => {
          expect(isBackupDue(last, last + age, min)).toBe(age >= min * 60_000);
          expect(nextBackupInMs(last, last + age, min)).toBe(Math.max(0, min * 60_000 - age));
        },
      ),
    );
  });
});
