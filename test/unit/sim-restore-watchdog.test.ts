import { describe, expect, it } from 'vitest';
import { joinParameter, restoreParameter } from '../../src/contract/protocol.js';
import { Ec2 } from '../../src/sim/ec2.js';
import { EventBus } from '../../src/sim/eventbridge.js';
import { Kernel } from '../../src/sim/kernel.js';
import { type NodeEtcd, Nodes } from '../../src/sim/node.js';
import { ParameterStore } from '../../src/sim/ssm.js';
import { Zones } from '../../src/sim/zones.js';

const HOUR = 3_600_000;

/**
 * One master in the simulator, with an etcd stand-in whose restore takes `restoreMs` of simulated
 * time (a large snapshot on a slow disk) and which records every start the node asks for.
 */
function oneMaster(restoreMs: number, pausedDuringRestore?: boolean) {
  const k = new Kernel(7);
  const zones = new Zones(['eu-west-1a']);
  const ec2 = new Ec2(k, zones, [1_000, 1_000]);
  const ssm = new ParameterStore();
  let running = false;
  let restoring = false;
  const startsDuringRestore: number[] = [];
  const etcd: NodeEtcd = {
    startMember: () => {
      running = true;
      return undefined;
    },
    servingVoter: () => running,
    serving: () => running,
    inSync: () => running,
    crash: () => {
      running = false;
    },
    running: () => running,
    restart: () => {
      if (restoring) startsDuringRestore.push(k.now());
      running = true;
      return undefined;
    },
    restore: async () => {
      running = false; // systemctl stop etcd
      restoring = true;
      await k.sleep(restoreMs);
      restoring = false;
      running = true;
      return undefined;
    },
    placementChanged: () => {},
  };
  const nodes = new Nodes(k, ec2, ssm, new EventBus(k), etcd, 'c1');
  if (pausedDuringRestore !== undefined) nodes.watchdog.pausedDuringRestore = pausedDuringRestore;
  ec2.onRunning = (i) => nodes.boot(i);
  const inst = ec2.launch('eu-west-1a', 'masters');
  const seed = {
    name: inst.id,
    initialCluster: `${inst.id}=https://${inst.ip}:2380`,
    initialClusterState: 'new',
  };
  ssm.put(joinParameter('c1', inst.id), JSON.stringify(seed));
  return {
    k,
    ssm,
    inst,
    nodes,
    seed,
    startsDuringRestore,
    restored: () => nodes.nodes.get(inst.id)?.restored,
  };
}

describe('a restore on a master, with its watchdog', () => {
  it('the model reads from master.sh that restore_watch stops the watchdog timer', async () => {
    const { watchdogModel } = await import('../../src/sim/node.js');
    expect(watchdogModel().pausedDuringRestore).toBe(true);
    expect(
      watchdogModel({
        'master.sh': 'install_watchdog etcd\nrestore_watch() {\n  systemctl stop etcd.service\n}\n',
        'lib.sh': "watchdog_check() {\n  systemctl restart x\n}\nwrite_timer tripod-watchdog 'x' 30s y\n",
      }).pausedDuringRestore,
    ).toBe(false);
  });

  for (const paused of [true, false]) {
    it(`${paused ? 'the shipped watchdog leaves etcd stopped' : 'a watchdog left running starts etcd'} while a slow restore runs`, async () => {
      const m = oneMaster(150_000, paused);
      await m.k.runUntil(m.k.now() + HOUR / 2);
      expect(m.nodes.nodes.get(m.inst.id)?.phase).toBe('ready');
      // tripod restore: the record, and the seed's restore join.
      m.ssm.put(restoreParameter('c1'), JSON.stringify({ requestedAt: 'T1', key: 'k', sha256: 's' }));
      m.ssm.put(joinParameter('c1', m.inst.id), JSON.stringify({ ...m.seed, restore: 'T1' }));
      await m.k.runUntil(m.k.now() + HOUR / 2);
      expect(m.restored()).toBe('T1');
      // Two processes on one data directory and one port: the second fails to bind and the first
      // is lost track of (the sandbox's lose-quorum scenario hung on exactly that under load).
      if (paused) expect(m.startsDuringRestore).toEqual([]);
      else expect(m.startsDuringRestore.length).toBeGreaterThan(0);
    });
  }
});
