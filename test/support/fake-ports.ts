/**
 * Test support for the healing core: builders of ObservedState values (for `decide`) and small
 * in-memory ports (for the executor and reconcilePass). The etcd fake follows the rules etcd 3.5
 * enforces (strict reconfig, one learner, promote only in sync, move-leader to the leader only).
 */

import { clientURL, peerURL } from '../../src/contract/protocol.js';
import type { LifecycleHook } from '../../src/heal/actions.js';
import type { ReconcilerConfig } from '../../src/heal/config.js';
import type {
  JoinParameters,
  LifecycleState,
  ObservedInstance,
  ObservedMember,
  ObservedState,
  ObservedTarget,
  ReconcilerMemory,
} from '../../src/heal/observed.js';
import {
  type BackupPort,
  EtcdError,
  type EtcdMemberReply,
  type EtcdMemberStatusReply,
  type EtcdPort,
  type FleetInstance,
  type FleetPort,
  type HealPorts,
  type LoadBalancerPort,
  type NodeProbePort,
  type ParameterPort,
} from '../../src/heal/ports.js';

export const T0 = 1_700_000_000_000;

export function testConfig(over: Partial<ReconcilerConfig> = {}): ReconcilerConfig {
  return {
    cluster: 'heal-test',
    region: 'eu-west-1',
    zones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
    expectedMasters: 3,
    masterGroupName: 'heal-test-masters',
    workerGroupName: 'heal-test-workers',
    apiTargetGroupArn: 'arn:tg/api',
    serviceTargetGroupArns: [],
    etcdScheme: 'https',
    etcdClientPort: 2379,
    etcdPeerPort: 2380,
    memberUnhealthyMs: 120_000,
    bootTimeoutMs: 900_000,
    learnerMaxLag: 100,
    ...over,
  };
}

// ---- ObservedState builders -------------------------------------------------------------------

export const ipOf = (n: number) => `10.0.${Math.floor(n / 250)}.${(n % 250) + 1}`;

export function inst(n: number, over: Partial<ObservedInstance> = {}): ObservedInstance {
  return {
    instanceId: `i-${n}`,
    zone: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'][n % 3]!,
    // EC2 gives a terminated instance no private address (its network interface goes with it).
    privateIp: over.lifecycleState === 'Terminated' ? undefined : ipOf(n),
    lifecycleState: 'InService',
    health: 'Healthy',
    launchTime: T0 + n * 1000,
    apiReady: true,
    bootFailed: false,
    ...over,
  };
}

/** A started, reachable voter named after instance `i-n` (member id `m<n>`). */
export function member(
  n: number,
  over: Partial<Omit<ObservedMember, 'status'>> & { status?: Partial<ObservedMember['status']> } = {},
): ObservedMember {
  const { status, ...rest } = over;
  return {
    id: `m${n}`,
    name: `i-${n}`,
    peerURLs: [peerURL(ipOf(n))],
    clientURLs: [clientURL(ipOf(n))],
    isLearner: false,
    ...rest,
    status: { reachable: true, raftIndex: 1000, raftAppliedIndex: 1000, alarms: [], ...status },
  };
}

/** An added learner that has not started yet: no name, no client URLs. */
export const unstartedLearner = (n: number): ObservedMember =>
  member(n, {
    name: '',
    clientURLs: [],
    isLearner: true,
    status: { reachable: false, raftIndex: undefined },
  });

export const deadStatus = { reachable: false, raftIndex: undefined, raftAppliedIndex: undefined };

export interface StateParts {
  instances?: ObservedInstance[];
  members?: ObservedMember[];
  leaderId?: string;
  leaderRaftIndex?: number;
  targets?: ObservedTarget[];
  joins?: Record<string, JoinParameters>;
  memory?: ReconcilerMemory;
  etcdReachable?: boolean;
}

export function state(p: StateParts = {}): ObservedState {
  const members = p.members ?? [];
  const reachable = p.etcdReachable ?? members.length > 0;
  return {
    cluster: 'heal-test',
    group: { name: 'heal-test-masters', desired: 3, instances: p.instances ?? [] },
    etcd: {
      reachable,
      leaderId: reachable ? (p.leaderId ?? members.find((m) => !m.isLearner)?.id) : undefined,
      leaderRaftIndex: reachable ? (p.leaderRaftIndex ?? 1000) : undefined,
      members: reachable ? members : [],
    },
    targets: p.targets ?? [],
    joins: p.joins ?? {},
    memory: p.memory ?? { unhealthySince: {}, established: members.length > 0 },
    ...(members.length > 0 ? { clusterRecorded: true } : {}),
  };
}

/** n InService masters i-1..i-n, members m1..mn healthy voters (m1 leads), all registered. */
export function healthy(n: number, over: StateParts = {}): ObservedState {
  const ns = Array.from({ length: n }, (_, k) => k + 1);
  return state({
    instances: ns.map((k) => inst(k)),
    members: ns.map((k) => member(k)),
    targets: ns.map((k) => ({ instanceId: `i-${k}`, health: 'healthy' as const })),
    ...over,
  });
}

export const withState = (i: ObservedInstance, lifecycleState: LifecycleState): ObservedInstance => ({
  ...i,
  lifecycleState,
});

// ---- In-memory ports ----------------------------------------------------------------------------

export interface FakeEtcdMember extends EtcdMemberReply {
  ip: string;
  /** The process runs and answers. */
  up: boolean;
  raftIndex: number;
  alarms: string[];
}

export class FakeEtcd implements EtcdPort {
  members: FakeEtcdMember[] = [];
  leaderId: string | undefined;
  calls: string[] = [];
  /** Learners that have caught up (promote succeeds). */
  inSync = new Set<string>();
  private nextId = 1000;
  /** Fill `errors` in status replies like etcd 3.5 does. */
  reportErrors = true;

  constructor(readonly scheme: 'https' | 'http' = 'https') {}

  seed(ips: string[], names: string[]) {
    this.members = ips.map((ip, k) => ({
      id: String(++this.nextId),
      name: names[k]!,
      ip,
      peerURLs: [peerURL(ip, this.scheme)],
      clientURLs: [clientURL(ip, this.scheme)],
      isLearner: false,
      up: true,
      raftIndex: 500,
      alarms: [],
    }));
    this.leaderId = this.members[0]?.id;
  }

  private serving(endpoint: string): FakeEtcdMember {
    const m = this.members.find(
      (x) => x.clientURLs.includes(endpoint) || clientURL(x.ip, this.scheme) === endpoint,
    );
    if (!m?.up) throw new EtcdError('unavailable', `connect ECONNREFUSED ${endpoint}`, 14);
    return m;
  }
  private voterEndpoint(endpoint: string): FakeEtcdMember {
    const m = this.serving(endpoint);
    if (m.isLearner) throw new EtcdError('unavailable', 'etcdserver: rpc not supported for learner', 14);
    const voters = this.members.filter((x) => !x.isLearner);
    if (voters.filter((x) => x.up).length < Math.floor(voters.length / 2) + 1) {
      throw new EtcdError('timeout', 'context deadline exceeded');
    }
    return m;
  }
  private reply = (m: FakeEtcdMember): EtcdMemberReply => ({
    id: m.id,
    name: m.name,
    peerURLs: [...m.peerURLs],
    clientURLs: [...m.clientURLs],
    isLearner: m.isLearner,
  });

  async listMembers(endpoint: string) {
    this.calls.push(`list ${endpoint}`);
    this.voterEndpoint(endpoint);
    return this.members.map(this.reply);
  }
  async addLearner(endpoint: string, url: string) {
    this.calls.push(`add ${url}`);
    this.voterEndpoint(endpoint);
    const existing = this.members.find((m) => m.peerURLs.includes(url));
    if (existing) return { member: this.reply(existing), members: this.members.map(this.reply) };
    // etcd 3.5: the voters up must be a quorum of the cluster grown by the (not yet started) member.
    const voters = this.members.filter((m) => !m.isLearner);
    if (voters.length > 1 && voters.filter((m) => m.up).length < Math.floor((voters.length + 1) / 2) + 1) {
      throw new EtcdError('unavailable', 'etcdserver: unhealthy cluster', 14);
    }
    if (this.members.some((m) => m.isLearner)) {
      throw new EtcdError('precondition', 'etcdserver: too many learner members in cluster', 9);
    }
    const ip = new URL(url).hostname;
    const m: FakeEtcdMember = {
      id: String(++this.nextId),
      name: '',
      ip,
      peerURLs: [url],
      clientURLs: [],
      isLearner: true,
      up: false,
      raftIndex: 0,
      alarms: [],
    };
    this.members.push(m);
    return { member: this.reply(m), members: this.members.map(this.reply) };
  }
  /** The joining node's process starts (as the bootstrap would). */
  start(id: string, name: string) {
    const m = this.members.find((x) => x.id === id)!;
    m.name = name;
    m.clientURLs = [clientURL(m.ip, this.scheme)];
    m.up = true;
    m.raftIndex = 500;
    this.inSync.add(id);
  }
  async promoteMember(endpoint: string, memberId: string) {
    this.calls.push(`promote ${memberId}`);
    this.voterEndpoint(endpoint);
    const m = this.members.find((x) => x.id === memberId);
    if (!m) throw new EtcdError('not-found', 'etcdserver: member not found', 5);
    if (!m.isLearner) throw new EtcdError('precondition', 'etcdserver: can only promote a learner member', 9);
    if (!this.inSync.has(memberId)) {
      throw new EtcdError(
        'precondition',
        'etcdserver: can only promote a learner member which is in sync with leader',
        9,
      );
    }
    m.isLearner = false;
  }
  async removeMember(endpoint: string, memberId: string) {
    this.calls.push(`remove ${memberId}`);
    this.voterEndpoint(endpoint);
    const k = this.members.findIndex((x) => x.id === memberId);
    if (k < 0) throw new EtcdError('not-found', 'etcdserver: member not found', 5);
    this.members.splice(k, 1);
    if (this.leaderId === memberId) this.leaderId = this.members.find((x) => !x.isLearner && x.up)?.id;
  }
  async status(endpoint: string): Promise<EtcdMemberStatusReply> {
    this.calls.push(`status ${endpoint}`);
    const m = this.serving(endpoint);
    const errors = this.members.flatMap((x) => x.alarms.map((a) => `alarm:${a} `));
    return {
      memberId: m.id,
      leaderId: this.leaderId ?? '0',
      raftIndex: m.raftIndex,
      raftAppliedIndex: m.raftIndex,
      raftTerm: 2,
      isLearner: m.isLearner,
      dbSize: 20480,
      version: '3.5.33',
      ...(this.reportErrors ? { errors } : {}),
    };
  }
  async moveLeader(leaderEndpoint: string, targetMemberId: string) {
    this.calls.push(`move-leader ${targetMemberId}`);
    const m = this.voterEndpoint(leaderEndpoint);
    if (m.id !== this.leaderId) throw new EtcdError('precondition', 'etcdserver: not leader', 9);
    const t = this.members.find((x) => x.id === targetMemberId);
    if (!t || t.isLearner || !t.up)
      throw new EtcdError('precondition', 'etcdserver: bad leader transferee', 9);
    this.leaderId = targetMemberId;
  }
  async alarms(endpoint: string) {
    this.calls.push(`alarms ${endpoint}`);
    this.voterEndpoint(endpoint);
    return this.members.flatMap((m) => m.alarms.map((alarm) => ({ memberId: m.id, alarm })));
  }
}

export class FakeFleet implements FleetPort {
  instances: FleetInstance[] = [];
  desired = 3;
  calls: string[] = [];
  completed: Array<{ instanceId: string; hook: LifecycleHook; result: string }> = [];
  async describeGroup(name: string) {
    this.calls.push('describe');
    return { name, desired: this.desired, instances: this.instances.map((i) => ({ ...i })) };
  }
  async completeLifecycleAction(
    _g: string,
    instanceId: string,
    hook: LifecycleHook,
    result: 'CONTINUE' | 'ABANDON',
  ) {
    this.calls.push(`complete ${instanceId} ${hook} ${result}`);
    const i = this.instances.find((x) => x.instanceId === instanceId);
    const waiting = hook === 'launching' ? 'Pending:Wait' : 'Terminating:Wait';
    if (!i || i.lifecycleState !== waiting) {
      throw new Error(`ValidationError: No active Lifecycle Action found with instance ID ${instanceId}`);
    }
    this.completed.push({ instanceId, hook, result });
    if (hook === 'terminating') i.lifecycleState = 'Terminated';
    else i.lifecycleState = result === 'CONTINUE' ? 'InService' : 'Terminated';
  }
  async recordLifecycleHeartbeat(_g: string, instanceId: string, hook: LifecycleHook) {
    this.calls.push(`heartbeat ${instanceId} ${hook}`);
  }
  async setInstanceUnhealthy(instanceId: string) {
    this.calls.push(`unhealthy ${instanceId}`);
    const i = this.instances.find((x) => x.instanceId === instanceId);
    if (i) i.health = 'Unhealthy';
  }
}

export class FakeLoadBalancer implements LoadBalancerPort {
  targets = new Map<string, ObservedTarget['health']>();
  calls: string[] = [];
  async describeTargets() {
    this.calls.push('describe');
    return [...this.targets].map(([instanceId, health]) => ({ instanceId, health }));
  }
  async registerTarget(_arn: string, id: string) {
    this.calls.push(`register ${id}`);
    this.targets.set(id, 'healthy');
  }
  async deregisterTarget(_arn: string, id: string) {
    this.calls.push(`deregister ${id}`);
    this.targets.delete(id);
  }
}

export class FakeParameters implements ParameterPort {
  values = new Map<string, string>();
  /** Who last wrote each parameter (SSM's LastModifiedUser); `put` writes as the reconciler. */
  writer = new Map<string, string>();
  calls: string[] = [];
  /** A write by another principal (a node's role session). */
  putAs(writer: string, name: string, value: string) {
    this.values.set(name, value);
    this.writer.set(name, writer);
  }
  async writers(path: string) {
    this.calls.push(`writers ${path}`);
    return Object.fromEntries(
      [...this.values.keys()].filter((k) => k.startsWith(path)).map((k) => [k, this.writer.get(k)]),
    );
  }
  async get(name: string) {
    this.calls.push(`get ${name}`);
    return this.values.get(name);
  }
  async getByPath(path: string) {
    this.calls.push(`getByPath ${path}`);
    return Object.fromEntries([...this.values].filter(([k]) => k.startsWith(path)));
  }
  async put(name: string, value: string) {
    this.calls.push(`put ${name}`);
    this.values.set(name, value);
    this.writer.set(name, 'arn:aws:sts::123456789012:assumed-role/tripod-reconciler/reconciler');
  }
  async delete(name: string) {
    this.values.delete(name);
    this.writer.delete(name);
  }
}

export class FakeProbe implements NodeProbePort {
  ready = new Set<string>();
  async apiReady(ip: string) {
    return this.ready.has(ip);
  }
}

export class FakeBackup implements BackupPort {
  snapshots: string[] = [];
  fail = false;
  async snapshot(from: string, reason: string) {
    if (this.fail) throw new Error('S3 AccessDenied');
    this.snapshots.push(`${from}: ${reason}`);
    return { key: `snap-${this.snapshots.length}`, bytes: 20480, sha256: 'x' };
  }
}

export interface FakeWorld {
  ports: HealPorts & {
    fleet: FakeFleet;
    loadBalancer: FakeLoadBalancer;
    parameters: FakeParameters;
    etcd: FakeEtcd;
    probe: FakeProbe;
  };
  time: { now: number };
}

/** A healthy world: n InService masters i-1..i-n on ipOf(k), a matching etcd cluster, all registered and ready. */
export function fakeWorld(n: number, opts: { backup?: boolean } = {}): FakeWorld {
  const time = { now: T0 + 3_600_000 };
  const fleet = new FakeFleet();
  const etcd = new FakeEtcd();
  const loadBalancer = new FakeLoadBalancer();
  const probe = new FakeProbe();
  const ns = Array.from({ length: n }, (_, k) => k + 1);
  fleet.desired = n;
  fleet.instances = ns.map((k) => {
    const { apiReady: _a, bootFailed: _b, ...i } = inst(k);
    return i;
  });
  etcd.seed(
    ns.map((k) => ipOf(k)),
    ns.map((k) => `i-${k}`),
  );
  for (const k of ns) {
    loadBalancer.targets.set(`i-${k}`, 'healthy');
    probe.ready.add(ipOf(k));
  }
  return {
    time,
    ports: {
      fleet,
      etcd,
      loadBalancer,
      probe,
      parameters: new FakeParameters(),
      clock: { now: () => time.now },
      ...(opts.backup ? { backup: new FakeBackup() } : {}),
    },
  };
}
