/**
 * A rolling upgrade of 3 masters whose etcd members are REAL etcd processes (the simulator's real
 * etcd back end: etcd-member.sh, mutual TLS, one loopback address per instance), the real reconciler
 * and the simulated instance refresh, in real time at 20x. Every master is replaced, the membership
 * never grows past 4 voters or 1 learner, and a key written before is still there after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { reconcilePass } from '../../src/heal/reconcile.js';
import { SimCloud } from '../../src/sim/cloud.js';
import type { RealEtcd } from '../../src/sim/etcd-real.js';
import { SimInstanceRefresh } from '../../src/sim/instance-refresh.js';
import { ReconcilerLambda } from '../../src/sim/lambda.js';
import { makeClusterPki } from '../../src/sim/pki.js';
import { zoneNames } from '../../src/sim/run.js';
import { runUpgrade, type UpgradeOutcome } from '../../src/upgrade/run.js';

const SPEED = 20;
let cleanup: (() => Promise<void>) | undefined;
afterAll(async () => cleanup?.());

it('upgrades 3 masters running real etcd, one at a time, surge first', { timeout: 240_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tripod-upgrade-real-'));
  const pki = await makeClusterPki(join(dir, 'pki'));
  const zones = zoneNames(3);
  const cloud = new SimCloud({
    seed: 11,
    zones,
    masters: 3,
    cluster: 'upgreal',
    realEtcd: { dir: join(dir, 'etcd'), caDir: pki.caDir, tls: pki.tls },
  });
  const real = cloud.real as RealEtcd;
  const k = cloud.k;
  new ReconcilerLambda(cloud, reconcilePass);
  const refresh = new SimInstanceRefresh(cloud);
  refresh.kubernetesVersionTag = '1.31.4';

  let maxVoters = 0;
  let maxLearners = 0;
  let upgrading = false;
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const v = await real.poll().catch(() => undefined);
      if (v && upgrading) {
        maxVoters = Math.max(maxVoters, v.members.filter((m) => !m.isLearner).length);
        maxLearners = Math.max(maxLearners, v.members.filter((m) => m.isLearner).length);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  cleanup = async () => {
    polling = false;
    await poller;
    await real.stop();
    await rm(dir, { recursive: true, force: true });
  };

  /** Undefined when 3 InService masters on `version` are exactly the 3 etcd voters, with a leader. */
  const notConverged = (version: string): string | undefined => {
    const v = real.view;
    if (v.leaderId === '0') return 'no leader';
    const g = refresh.groupView();
    const inService = g.instances.filter((i) => i.lifecycleState === 'InService' && i.version === version);
    if (g.instances.length !== 3 || inService.length !== 3)
      return `${inService.length} InService masters on v${version}`;
    if (v.members.length !== 3 || v.members.some((m) => m.isLearner)) return `${v.members.length} members`;
    const ips = inService.map((i) => cloud.ec2.get(i.instanceId)?.ip);
    const stray = v.members.find((m) => !ips.some((ip) => m.peerURLs.some((u) => u.includes(`//${ip}:`))));
    return stray ? `member ${stray.name} is not on a v${version} master` : undefined;
  };

  const formed = await k.runRealtime(k.now() + 15 * 60_000, SPEED, () => notConverged('1') === undefined);
  expect(formed, `the cluster did not form: ${notConverged('1')}`).toBe(true);
  await real.put('/upgrade/before', 'written before the upgrade');

  refresh.setLaunchTemplateVersion('2');
  upgrading = true;
  const lines: string[] = [];
  let outcome: UpgradeOutcome | undefined;
  let error: unknown;
  k.spawn(
    () =>
      runUpgrade(
        refresh.port(),
        {
          cluster: cloud.config.cluster,
          masterGroup: cloud.config.masterGroupName,
          workerGroup: cloud.config.workerGroupName,
          expectedMasters: 3,
          zones,
          kubernetesVersion: '1.32.0',
          workerMinHealthyPercentage: 90,
          abort: false,
        },
        { timeoutMs: 60 * 60_000, pollMs: 10_000, onProgress: (l) => lines.push(l) },
      ),
    (r) => {
      if (r.ok) outcome = r.value;
      else error = r.error;
    },
  );
  await k.runRealtime(k.now() + 60 * 60_000, SPEED, () => outcome !== undefined || error !== undefined);
  expect(error).toBeUndefined();
  expect(outcome?.result, lines.join('\n')).toBe('completed');
  const settled = await k.runRealtime(k.now() + 10 * 60_000, SPEED, () => notConverged('2') === undefined);
  expect(settled, `${notConverged('2')}\n${lines.join('\n')}`).toBe(true);

  expect(outcome?.replacements).toHaveLength(3);
  expect(maxVoters).toBeLessThanOrEqual(4);
  expect(maxLearners).toBeLessThanOrEqual(1);
  expect(await real.get('/upgrade/before')).toBe('written before the upgrade');
});
