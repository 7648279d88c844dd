/**
 * A snapshot invocation reads the master group only to find etcd's client endpoints, and a warm pool
 * instance is never one (it runs no etcd): it calls no DescribeWarmPool, whatever the configuration
 * says about the pool (one more call and a DescribeInstances of the pool's instances on every
 * snapshot otherwise).
 */
import { describe, expect, it } from 'vitest';
import { takeSnapshot } from '../../src/heal/backups.js';
import { fakeWorld, testConfig } from '../support/fake-ports.js';

describe('takeSnapshot and the warm pool', () => {
  for (const masterWarmPool of [true, undefined]) {
    it(`reads no warm pool (masterWarmPool ${masterWarmPool})`, async () => {
      const w = fakeWorld(3);
      const asked: Array<{ warmPool?: boolean } | undefined> = [];
      const describe = w.ports.fleet.describeGroup.bind(w.ports.fleet);
      w.ports.fleet.describeGroup = (name: string, opts?: { warmPool?: boolean }) => {
        asked.push(opts);
        return describe(name);
      };
      const config = testConfig({
        backupBucket: 'tripod-backups',
        ...(masterWarmPool === undefined ? {} : { masterWarmPool }),
      });
      const taken: string[] = [];
      const outcome = await takeSnapshot(
        { ...w.ports, now: () => w.time.now },
        {
          take: async (from) => {
            taken.push(from);
            return { key: 'snap-1', bytes: 20480, revision: 7, pruned: [] };
          },
        },
        config,
        { cluster: config.cluster, reason: 'scheduled', requestedAt: new Date(w.time.now).toISOString() },
      );
      expect(taken).toHaveLength(1);
      expect(outcome).toMatchObject({ outcome: 'taken' });
      expect(asked).toEqual([{ warmPool: false }]);
    });
  }
});
