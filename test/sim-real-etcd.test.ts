/**
 * The simulator with the REAL etcd back end: seeds whose masters are real etcd processes. One seed
 * kills a master (SIGKILL, replaced through the join handshake), one partitions or crashes; each
 * must converge with the keys written before the faults readable, and leave no process behind.
 */
import { describe, expect, it } from 'vitest';
import { liveEtcdPids } from '../src/sim/etcd-real.js';
import { simulateReal } from '../src/sim/run-real.js';

describe('simulator with real etcd', () => {
  it('a killed master is replaced by a real etcd member through the join handshake', async () => {
    const r = await simulateReal({ seed: 11, faults: ['kill'], maxFaults: 1, speed: 40 });
    expect(r.violations, r.timeline).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.convergedAfterMs).toBeDefined();
    expect(r.timeline).toMatch(/fault +kill i-[0-9a-f]{17}/);
    expect(r.timeline).toMatch(/cluster formed; wrote 3 keys/);
    // Three members formed the cluster, the replacement is a fourth real process.
    expect(r.stats.etcdProcesses).toBeGreaterThanOrEqual(4);
    expect(r.timeline).toMatch(/decided +remove-member \d+ \(i-[0-9a-f]{17}\): .* -> ok/);
    expect(r.timeline).toMatch(/decided +promote-member \d+ .* -> ok/);
    expect(liveEtcdPids()).toEqual([]);
  }, 120_000);

  it('etcd crashes and a partition (frozen processes) heal with the data kept', async () => {
    const r = await simulateReal({ seed: 5, faults: ['etcd-crash', 'partition'], maxFaults: 2, speed: 40 });
    expect(r.violations, r.timeline).toEqual([]);
    expect(r.timeline).toMatch(/fault +(etcd service crashes|partition)/);
    expect(liveEtcdPids()).toEqual([]);
  }, 150_000);
});
