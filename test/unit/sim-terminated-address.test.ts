/**
 * A terminated instance has no private address in the simulator's DescribeInstances answers, as in
 * EC2: the EC2 User Guide's table of differences between reboot, stop, hibernate and terminate says
 * a terminated instance's private and public IPv4 addresses are "None" (its network interface is
 * deleted with it), while DescribeInstances still lists it for a while ("Recently terminated
 * instances might appear in the returned results"). The reconciler's fleet port sees the group's
 * and the pool's instances through DescribeInstances (adapters/aws/heal-ports.ts fleetInstances):
 * a terminated one that Auto Scaling still lists comes with no privateIp.
 */
import { describe, expect, it } from 'vitest';
import { SimCloud } from '../../src/sim/cloud.js';
import { zoneNames } from '../../src/sim/run.js';

const MIN = 60_000;

describe('a terminated instance in DescribeInstances', () => {
  it('EC2 answers with no private address once terminated, the address it had while it ran or was stopped', async () => {
    const cloud = new SimCloud({ seed: 31, zones: zoneNames(3), masters: 3 });
    const { k, ec2 } = cloud;
    const a = ec2.launch('eu-west-1a', 'by-hand');
    expect(ec2.privateIpAddress(a.id)).toBe(a.ip);
    await k.runUntil(k.now() + MIN);
    ec2.stop(a.id, [1_000, 1_000]);
    await k.runUntil(k.now() + MIN);
    expect(ec2.get(a.id)?.state).toBe('stopped');
    expect(ec2.privateIpAddress(a.id)).toBe(a.ip);
    ec2.terminate(a.id);
    expect(ec2.get(a.id)?.state).toBe('terminated');
    expect(ec2.privateIpAddress(a.id)).toBeUndefined();
    expect(ec2.privateIpAddress('i-unknown')).toBeUndefined();
  });

  it("the reconciler's fleet port lists a terminated group member with no privateIp", async () => {
    const cloud = new SimCloud({ seed: 32, zones: zoneNames(3), masters: 3 });
    await cloud.k.runUntil(cloud.k.now() + 2 * MIN, () => cloud.group.describe().instances.length === 3);
    const [dead, ...rest] = cloud.group.describe().instances;
    expect(dead?.privateIp).toBeDefined();
    cloud.faults.killed.add(dead!.instanceId);
    cloud.ec2.terminate(dead!.instanceId);
    const ports = cloud.ports({ crashAfter: undefined, mutations: 0, dead: false, onCrash: () => {} });
    const seen = ports.fleet.describeGroup(cloud.config.masterGroupName);
    await cloud.k.runUntil(cloud.k.now() + 1_000);
    const instances = (await seen).instances;
    // Auto Scaling still lists it (its health check has not replaced it yet) ...
    const listed = instances.find((i) => i.instanceId === dead!.instanceId);
    expect(listed).toBeDefined();
    // ... but EC2 gives it no address; the others keep theirs.
    expect(listed?.privateIp).toBeUndefined();
    for (const r of rest)
      expect(instances.find((i) => i.instanceId === r.instanceId)?.privateIp).toBe(r.privateIp);
  });
});
