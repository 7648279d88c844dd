/**
 * The simulator with the REAL etcd back end: seeds whose masters are real etcd processes. One seed
 * kills a master (SIGKILL, replaced through the join handshake), one partitions or crashes; each
 * must converge with the keys written before the faults readable, and leave no process behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SimCloud } from '../../src/sim/cloud.js';
import { liveEtcdPids, pickEtcdPorts, type RealEtcd } from '../../src/sim/etcd-real.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { makeClusterPki } from '../../src/sim/pki.js';
import { RealWatch, realNotConverged } from '../../src/sim/real-invariants.js';
import { zoneNames } from '../../src/sim/run.js';
import { simulateReal } from '../../src/sim/run-real.js';

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

  it('the watch flags a membership change that would leave the real cluster without quorum', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tripod-sim-real-test-'));
    const pki = await makeClusterPki(join(dir, 'pki'));
    const cloud = new SimCloud({
      seed: 21,
      zones: zoneNames(3),
      masters: 3,
      realEtcd: {
        dir: join(dir, 'etcd'),
        caDir: pki.caDir,
        tls: pki.tls,
        ports: await pickEtcdPorts(),
      },
    });
    const real = cloud.real as RealEtcd;
    new ReconcilerLambda(cloud, reconcilePass);
    const watch = new RealWatch(real, () => {});
    watch.start();
    try {
      const t0 = Date.now();
      await cloud.k.runRealtime(
        Number.MAX_SAFE_INTEGER,
        30,
        () => realNotConverged(cloud, real, 0) === undefined || Date.now() - t0 > 60_000,
      );
      expect(realNotConverged(cloud, real, 0)).toBeUndefined();
      expect(watch.violations).toEqual([]);
      const ip = (peer: string) => /\/\/([^:/]+)/.exec(peer)?.[1] as string;
      const [a, b, c] = (await real.poll()).members;
      if (!a || !b || !c) throw new Error('want 3 members');
      // a's etcd dies; removing healthy b would leave 1 healthy of 2 voters (quorum 2).
      real.crash(ip(a.peerURLs[0] as string), true);
      const endpoint = `https://${ip(c.peerURLs[0] as string)}:${cloud.config.etcdClientPort}`;
      await real.port.removeMember(endpoint, b.id).catch(() => {});
      expect(watch.violations.join('\n')).toMatch(
        new RegExp(`^quorum: removing ${b.id} leaves 1 healthy of 2 voters \\(quorum 2\\)`),
      );
    } finally {
      await watch.stop();
      await real.stop();
      await rm(dir, { recursive: true, force: true });
    }
    expect(liveEtcdPids()).toEqual([]);
  }, 90_000);
});
