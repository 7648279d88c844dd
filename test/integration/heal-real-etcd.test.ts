/**
 * reconcilePass with the real etcd client against real 3- and 5-member TLS clusters (Debian etcd on
 * loopback), with an in-memory fleet, target group and parameter store. Like the real masters, every
 * member listens on the standard ports 2379/2380 of its own address (127.a.b.k), so the reconciler
 * finds members from instance IPs exactly as it does in AWS. A "node" boots when its join parameters
 * are published: it runs the product's etcd phase (etcd-member.sh) with them.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/adapters/etcd/client.js';
import { joinParameter } from '../../src/contract/protocol.js';
import type { JoinParameters } from '../../src/heal/observed.js';
import { EtcdError, type HealPorts } from '../../src/heal/ports.js';
import { type PassResult, reconcilePass } from '../../src/heal/reconcile.js';
import { EtcdTestCluster, type EtcdTestMember } from '../support/etcd-cluster.js';
import { FakeFleet, FakeLoadBalancer, FakeParameters, testConfig } from '../support/fake-ports.js';
import { issueClientCert, makeCa, readTls } from '../support/pki.js';
import { until } from '../support/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const octet = () => 1 + Math.floor(Math.random() * 250);
const clusters: EtcdTestCluster[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

interface RealWorld {
  cluster: EtcdTestCluster;
  ports: HealPorts & { fleet: FakeFleet; loadBalancer: FakeLoadBalancer; parameters: FakeParameters };
  config: ReturnType<typeof testConfig>;
  /** Every membership change executed ok, in order, as `kind name`. */
  changes: string[];
  passes: PassResult[];
}

function memberAt(cluster: EtcdTestCluster, k: number): EtcdTestMember {
  // etcd's standard ports on the member's own address, as on AWS
  return cluster.allocateAt(`i-${k}`, `${cluster.ipPrefix}${k}`, 2379, 2380);
}

async function realWorld(size: number, expected = size): Promise<RealWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'tripod-heal-'));
  const caDir = join(dir, 'ca');
  mkdirSync(caDir);
  const ca = await makeCa(caDir);
  const tls = await readTls(ca.cert, await issueClientCert(caDir, caDir, 'tripod-reconciler'));
  const client = createEtcdClient({ tls, timeoutMs: 1000 });
  const options = {
    scheme: 'https' as const,
    heartbeatMs: 50,
    electionMs: 500,
    namePrefix: 'i-',
    timeoutMs: 1000,
    readyTimeoutS: 30,
  };
  const cluster = new EtcdTestCluster(
    dir,
    'https',
    `127.${octet()}.${octet()}.`,
    caDir,
    tls,
    client,
    options,
  );
  clusters.push(cluster);
  const members = Array.from({ length: size }, (_, k) => memberAt(cluster, k + 1));
  const initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  for (const m of members) cluster.startMember(m, { initialCluster, state: 'new' });
  await Promise.all(members.map((m) => cluster.waitServing(m)));
  cluster.readyAt = Date.now();

  const fleet = new FakeFleet();
  fleet.desired = expected;
  fleet.instances = members.map((m) => ({
    instanceId: m.name,
    zone: `eu-west-1${'abc'[Number(m.name.slice(2)) % 3]}`,
    privateIp: m.ip,
    lifecycleState: 'InService' as const,
    health: 'Healthy' as const,
    launchTime: Date.now() - 3_600_000,
  }));
  const loadBalancer = new FakeLoadBalancer();
  for (const m of members) loadBalancer.targets.set(m.name, 'healthy');
  // The node's API server is ready once its etcd member votes.
  const probe = {
    apiReady: async (ip: string) => {
      const s = await client.status(`https://${ip}:2379`).catch(() => undefined);
      return s !== undefined && !s.isLearner;
    },
  };
  return {
    cluster,
    ports: {
      fleet,
      loadBalancer,
      parameters: new FakeParameters(),
      etcd: client,
      probe,
      clock: { now: () => Date.now() },
    },
    config: testConfig({ expectedMasters: expected, memberUnhealthyMs: 60_000 }),
    changes: [],
    passes: [],
  };
}

/** A new master boots in Pending:Wait (its etcd member does not exist yet). */
function launch(w: RealWorld, k: number) {
  const m = memberAt(w.cluster, k);
  w.ports.fleet.instances.push({
    instanceId: m.name,
    zone: 'eu-west-1a',
    privateIp: m.ip,
    lifecycleState: 'Pending:Wait',
    health: 'Healthy',
    launchTime: Date.now(),
  });
}

/** The instance and its etcd process die. */
async function killMaster(w: RealWorld, name: string) {
  await w.cluster.kill(name);
  w.ports.fleet.instances.find((i) => i.instanceId === name)!.lifecycleState = 'Terminated';
}

/** Nodes whose join parameters are published start etcd with them (the bootstrap's etcd phase). */
async function bootNodes(w: RealWorld) {
  for (const i of w.ports.fleet.instances) {
    const m = w.cluster.members.find((x) => x.name === i.instanceId);
    const raw = w.ports.parameters.values.get(joinParameter(w.config.cluster, i.instanceId));
    if (i.lifecycleState !== 'Pending:Wait' || !m || m.process || !raw) continue;
    const join = JSON.parse(raw) as JoinParameters;
    w.cluster.startMember(m, { initialCluster: join.initialCluster, state: join.initialClusterState });
    await w.cluster.waitServing(m);
  }
}

async function pass(w: RealWorld): Promise<PassResult> {
  const p = await reconcilePass(w.ports, w.config);
  w.passes.push(p);
  for (const r of p.results) {
    if (r.outcome !== 'ok') continue;
    const a = r.action;
    if (a.kind === 'add-learner') w.changes.push(`add-learner ${a.instanceId}`);
    else if (a.kind === 'promote-member' || a.kind === 'remove-member') w.changes.push(`${a.kind} ${a.name}`);
    else if (a.kind === 'move-leader') w.changes.push(`move-leader ${a.fromMemberId}->${a.toMemberId}`);
  }
  return p;
}

/**
 * Passes (with node boots between them) until converged, within `deadlineMs` of real time (etcd's
 * elections and joins take what the machine's load makes them take); fails with the timeline.
 */
async function converge(w: RealWorld, deadlineMs = 40_000) {
  let last: PassResult | undefined;
  await until(
    async () => {
      last = await pass(w);
      if (!last.decision.conditions.converged) await bootNodes(w);
    },
    () => last?.decision.conditions.converged === true,
    {
      deadlineMs,
      what: 'the cluster converged',
      describe: () =>
        w.passes
          .map(
            (p) =>
              p.results.map((r) => `${r.action.kind}:${r.outcome}`).join(' ') +
              ` | ${p.decision.waits.join('; ')}`,
          )
          .join('\n'),
    },
  );
  return last!;
}

const membershipKinds = (p: PassResult) =>
  p.decision.actions.filter((a) => ['add-learner', 'remove-member', 'promote-member'].includes(a.kind));

// Each wait below has its own deadline; the test's timeout is above the longest of them.
describe('reconcilePass against real etcd', { timeout: 120_000 }, () => {
  it('a brand-new cluster: one seed starts it with state new, the others join one by one as learners', async () => {
    const w = await realWorld(0, 3);
    for (const k of [1, 2, 3]) launch(w, k);
    const first = await pass(w);
    expect(first.decision.memory.seedInstanceId).toBe('i-1');
    expect(first.decision.waits).toContain("i-2 waits until the seed's member exists");
    await converge(w, 50_000);
    expect(w.changes).toEqual([
      'add-learner i-2',
      'promote-member i-2',
      'add-learner i-3',
      'promote-member i-3',
    ]);
    const members = await w.ports.etcd.listMembers(w.cluster.member('i-1').clientURL);
    expect(members.map((m) => [m.name, m.isLearner]).sort()).toEqual([
      ['i-1', false],
      ['i-2', false],
      ['i-3', false],
    ]);
    expect(w.ports.fleet.completed.map((c) => `${c.instanceId} ${c.result}`)).toEqual([
      'i-1 CONTINUE',
      'i-2 CONTINUE',
      'i-3 CONTINUE',
    ]);
    expect(w.passes.at(-1)!.status.memory.established).toBe(true);
  });

  it('3 members: a killed master is removed before its replacement joins as a learner, starts and is promoted', async () => {
    const w = await realWorld(3);
    await w.cluster.waitReconfigurable();
    await killMaster(w, 'i-3');
    launch(w, 4);
    // etcd itself refuses the add while the dead member is there (strict reconfig check) ...
    await sleep(1500);
    await expect(
      w.ports.etcd.addLearner(w.cluster.member('i-1').clientURL, 'https://127.0.0.9:2380'),
    ).rejects.toSatisfy((e) => e instanceof EtcdError && e.kind === 'unavailable');
    // ... and the decisions never attempt it: the first pass removes the dead one.
    const first = await pass(w);
    expect(membershipKinds(first).map((a) => a.kind)).toEqual(['remove-member']);
    await converge(w);
    expect(w.changes).toEqual(['remove-member i-3', 'add-learner i-4', 'promote-member i-4']);
    expect(w.passes.every((p) => membershipKinds(p).length <= 1)).toBe(true);
    expect(w.ports.fleet.completed).toEqual([{ instanceId: 'i-4', hook: 'launching', result: 'CONTINUE' }]);
    const names = (await w.ports.etcd.listMembers(w.cluster.member('i-1').clientURL))
      .map((m) => m.name)
      .sort();
    expect(names).toEqual(['i-1', 'i-2', 'i-4']);
    expect([...w.ports.loadBalancer.targets.keys()].sort()).toEqual(['i-1', 'i-2', 'i-4']);
  });

  it('3 members: a stray learner is cleaned up; a terminating leader hands leadership over before it is removed', async () => {
    const w = await realWorld(3);
    await w.cluster.waitReconfigurable();
    // A failed join left a learner behind (its instance never came up).
    const stray = memberAt(w.cluster, 9);
    await w.ports.etcd.addLearner(w.cluster.member('i-1').clientURL, stray.peerURL);
    await pass(w);
    expect(w.changes).toEqual(['remove-member ']);
    // i-1 may be a follower: its member list (served from its own store, not linearized in etcd
    // 3.5) shows the removal once it applied the entry, a moment after the leader committed it.
    let members = await w.ports.etcd.listMembers(w.cluster.member('i-1').clientURL);
    await until(
      async () => {
        members = await w.ports.etcd.listMembers(w.cluster.member('i-1').clientURL);
      },
      () => members.length === 3,
      { deadlineMs: 5_000, pauseMs: 100, what: 'the stray learner gone from i-1’s member list' },
    );
    expect(members).toHaveLength(3);

    const leader = await w.cluster.leader();
    const leaderId = await w.cluster.idOf(leader);
    w.ports.fleet.instances.find((i) => i.instanceId === leader.name)!.lifecycleState = 'Terminating:Wait';
    const p = await pass(w);
    expect(
      p.results.filter((r) => r.action.kind !== 'heartbeat-lifecycle').map((r) => [r.action.kind, r.outcome]),
    ).toEqual([
      ['deregister-target', 'ok'],
      ['move-leader', 'ok'],
      ['remove-member', 'ok'],
    ]);
    const other = w.cluster.members.find((m) => m.process && m !== leader)!;
    const after = await w.ports.etcd.status(other.clientURL);
    expect(after.leaderId).not.toBe(leaderId);
    expect(after.leaderId).not.toBe('0');
    await pass(w);
    expect(w.ports.fleet.completed).toEqual([
      { instanceId: leader.name, hook: 'terminating', result: 'CONTINUE' },
    ]);
    await w.cluster.kill(leader);
    expect((await w.ports.etcd.listMembers(other.clientURL)).map((m) => m.name)).not.toContain(leader.name);
  });

  it('3 members: an unreachable member is debounced, not removed while its instance lives, then replaced', async () => {
    const w = await realWorld(3);
    w.config = { ...w.config, memberUnhealthyMs: 1500 };
    await w.cluster.waitReconfigurable();
    await pass(w); // the first pass writes the durable cluster record (record-cluster)
    // A short partition that heals before the threshold: nothing happens, nothing is remembered.
    w.cluster.pause('i-3');
    const during = await pass(w);
    expect(during.decision.actions).toEqual([]);
    expect(Object.keys(during.decision.memory.unhealthySince)).toHaveLength(1);
    w.cluster.resume('i-3');
    await sleep(300);
    const healed = await pass(w);
    expect(healed.decision.memory.unhealthySince).toEqual({});
    // A lasting one: past the threshold the group is told to replace the instance, and only then
    // does its member go (the instance is marked Unhealthy, then terminates through its hook).
    w.cluster.pause('i-3');
    await pass(w);
    await sleep(1600);
    const replace = await pass(w);
    expect(replace.results.map((r) => [r.action.kind, r.outcome])).toEqual([['set-unhealthy', 'ok']]);
    expect(w.changes).toEqual([]);
    w.ports.fleet.instances.find((i) => i.instanceId === 'i-3')!.lifecycleState = 'Terminating:Wait';
    launch(w, 4);
    await converge(w);
    expect(w.changes).toEqual(['remove-member i-3', 'add-learner i-4', 'promote-member i-4']);
    expect(w.ports.fleet.completed).toEqual([
      { instanceId: 'i-3', hook: 'terminating', result: 'CONTINUE' },
      { instanceId: 'i-4', hook: 'launching', result: 'CONTINUE' },
    ]);
  });

  it('5 members: two losses keep quorum; both are removed one per pass, then replaced', async () => {
    const w = await realWorld(5);
    await w.cluster.waitReconfigurable();
    await killMaster(w, 'i-4');
    await killMaster(w, 'i-5');
    const first = await pass(w);
    expect(first.decision.conditions).toMatchObject({
      voters: 5,
      healthyVoters: 3,
      quorum: 3,
      quorumMargin: 0,
    });
    expect(membershipKinds(first)).toHaveLength(1);
    launch(w, 6);
    launch(w, 7);
    await converge(w, 50_000);
    expect(w.changes.slice(0, 2).sort()).toEqual(['remove-member i-4', 'remove-member i-5']);
    expect(w.changes.slice(2)).toEqual([
      'add-learner i-6',
      'promote-member i-6',
      'add-learner i-7',
      'promote-member i-7',
    ]);
    for (const p of w.passes) expect(p.decision.conditions.quorumMargin).toBeGreaterThanOrEqual(0);
    const names = (await w.ports.etcd.listMembers(w.cluster.member('i-1').clientURL))
      .map((m) => m.name)
      .sort();
    expect(names).toEqual(['i-1', 'i-2', 'i-3', 'i-6', 'i-7']);
  });
});
