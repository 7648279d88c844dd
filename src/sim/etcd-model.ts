/**
 * A fast model of etcd 3.5 membership behind the EtcdPort: voters and learners, quorum, leader
 * election (the most up-to-date connected voter of a majority wins), the strict reconfiguration
 * checks, one learner at most, promotion only when the learner is in sync, move-leader to voters
 * only, raft indexes that advance while a leader exists, partitions and process crashes. Errors are
 * `EtcdError`s with the kinds, gRPC codes and messages etcd 3.5 gives.
 */

import { quorumOf } from '../cluster-spec/topology.js';
import { ETCD_VERSION } from '../cluster-spec/versions.js';
import { clientURL, hostOfURL, peerURL } from '../contract/protocol.js';
import type { JoinParameters } from '../heal/observed.js';
import { EtcdError, type EtcdMemberReply, type EtcdMemberStatusReply, type EtcdPort } from '../heal/ports.js';
import type { Kernel } from './kernel.js';

const FAILED_PRECONDITION = 9;
const NOT_FOUND = 5;
const UNAVAILABLE = 14;
const DEADLINE_EXCEEDED = 4;
/** etcd's HealthInterval: voters must have been connected this long before a reconfiguration. */
const HEALTH_INTERVAL_MS = 5_000;
/** Raft entries per second written while a leader exists (Kubernetes' steady write load). */
const ENTRIES_PER_SECOND = 10;

export interface ModelMember {
  id: string;
  name: string;
  peerURL: string;
  clientURL: string | undefined;
  ip: string;
  isLearner: boolean;
  /** Has published its name and client URLs (etcd's "started"). */
  started: boolean;
  /** The etcd process is running. */
  running: boolean;
  /** Connected to the leader since (undefined: not connected). */
  connectedSince: number | undefined;
  /** In sync with the leader from this time on (while connected). */
  syncedAt: number;
  /** Raft index while not in sync. */
  frozenIndex: number;
}

/** Who can talk to whom: the cloud's network. */
export interface EtcdNetwork {
  reach(ipA: string, ipB: string): boolean;
  reconcilerReach(ip: string): boolean;
  /** The host answers (alive), whether or not it is reachable from the reconciler. */
  hostAlive(ip: string): boolean;
}

/** A membership request as the reconciler made it (for the invariant checker), before etcd's own checks. */
export type MembershipRequest =
  | { kind: 'add-learner'; peerURL: string }
  | { kind: 'promote'; memberId: string }
  | { kind: 'remove'; memberId: string };

export class EtcdModel {
  readonly members = new Map<string, ModelMember>();
  leaderId: string | undefined;
  term = 1;
  private commitBase = 0;
  private commitBaseAt = 0;
  private electionScheduled = false;
  /**
   * The leader just lost, and until when the others still name it: a follower keeps its leader until
   * its own election timeout fires (1-2 x etcd-member.sh's 1000 ms), then reports none.
   */
  private formerLeader: { id: string; namedUntil: number } | undefined;
  readonly stats = { elections: 0, adds: 0, promotes: 0, removes: 0, refused: 0 };
  /** Called before etcd checks a membership request (the invariant checker looks at it). */
  onRequest: (r: MembershipRequest) => void = () => {};
  /** Called with the same request once etcd's checks passed, just before etcd carries it out. */
  onExecuted: (r: MembershipRequest) => void = () => {};
  /** Called when a running member is removed (its process exits). */
  onRemoved: (m: ModelMember) => void = () => {};
  /** Set when a second cluster would have been seeded over an existing one. */
  secondSeed: string | undefined;

  constructor(
    private readonly k: Kernel,
    private readonly net: EtcdNetwork,
    private readonly scheme: 'https' | 'http' = 'https',
    private readonly clientPort = 2379,
  ) {}

  // ---- raft bookkeeping -------------------------------------------------------------------

  commitIndex(): number {
    if (this.leaderId === undefined) return this.commitBase;
    return this.commitBase + Math.floor(((this.k.now() - this.commitBaseAt) * ENTRIES_PER_SECOND) / 1000);
  }

  private bump(): void {
    this.commitBase = this.commitIndex() + 1;
    this.commitBaseAt = this.k.now();
  }

  indexOf(m: ModelMember): number {
    if (m.id === this.leaderId) return this.commitIndex();
    if (m.connectedSince !== undefined && this.k.now() >= m.syncedAt) return this.commitIndex();
    return m.frozenIndex;
  }

  voters(): ModelMember[] {
    return [...this.members.values()].filter((m) => !m.isLearner);
  }

  learners(): ModelMember[] {
    return [...this.members.values()].filter((m) => m.isLearner);
  }

  quorum(voters = this.voters().length): number {
    return quorumOf(voters);
  }

  private up(m: ModelMember): boolean {
    return m.running && m.started && this.net.hostAlive(m.ip);
  }

  private linked(a: ModelMember, b: ModelMember): boolean {
    return a === b || (this.up(a) && this.up(b) && this.net.reach(a.ip, b.ip));
  }

  /** Voters that are running and connected to the leader (the leader included). */
  healthyVoters(): ModelMember[] {
    const leader = this.leaderId ? this.members.get(this.leaderId) : undefined;
    if (!leader) return [];
    return this.voters().filter((v) => this.up(v) && this.linked(leader, v));
  }

  /**
   * Recompute the leader and every member's link to it. The cloud calls this after anything that
   * changes the network, a process or the membership.
   */
  refresh(): void {
    const now = this.k.now();
    const leader = this.leaderId ? this.members.get(this.leaderId) : undefined;
    if (leader) {
      const connected = this.voters().filter((v) => this.up(v) && this.linked(leader, v)).length;
      if (!this.up(leader) || connected < this.quorum()) this.loseLeader('lost quorum or stopped');
    }
    const current = this.leaderId ? this.members.get(this.leaderId) : undefined;
    for (const m of this.members.values()) {
      const link = !!current && this.up(m) && this.linked(current, m);
      if (link && m.connectedSince === undefined) {
        m.connectedSince = now;
        const behind = this.commitIndex() - m.frozenIndex;
        // Catching up: a fresh learner receives a snapshot; a restarted member replays a little.
        m.syncedAt = now + (behind > 2_000 ? this.k.rng.int(2_000, 10_000) : this.k.rng.int(200, 2_000));
      } else if (!link && m.connectedSince !== undefined) {
        if (m.id !== this.leaderId) m.frozenIndex = this.indexOf(m);
        m.connectedSince = undefined;
      }
    }
    if (!this.leaderId && !this.electionScheduled && this.electable().length > 0) {
      this.electionScheduled = true;
      this.k.after(this.k.rng.int(1_000, 3_000), () => {
        this.electionScheduled = false;
        this.elect();
      });
    }
  }

  private loseLeader(why: string, stillNamed = true): void {
    const old = this.leaderId;
    this.commitBase = this.commitIndex();
    this.commitBaseAt = this.k.now();
    for (const m of this.members.values()) {
      if (m.connectedSince !== undefined) m.frozenIndex = this.indexOf(m);
      m.connectedSince = undefined;
    }
    this.leaderId = undefined;
    if (old !== undefined && stillNamed)
      this.formerLeader = { id: old, namedUntil: this.k.now() + this.k.rng.int(1_000, 2_000) };
    this.k.log('etcd', `leader ${old} gone: ${why}`);
  }

  /**
   * A majority of the voters runs and reaches each other: etcd can elect a leader and commit.
   * The invariant checker asks this after every event: it stops at the first voter that makes a
   * majority (the same answer as `electable().length > 0`, without the all-pairs walk).
   */
  hasQuorum(): boolean {
    const up = this.upVoters();
    const q = this.quorum();
    return up.length >= q && up.some((v) => this.reachesMajority(v, up, q));
  }

  /** Running voters that, with the voters they reach, make a majority. */
  private electable(): ModelMember[] {
    const up = this.upVoters();
    const q = this.quorum();
    if (up.length < q) return [];
    return up.filter((v) => this.reachesMajority(v, up, q));
  }

  /** Voters whose process runs and has started, on a live host (each looked up once). */
  private upVoters(): ModelMember[] {
    const up: ModelMember[] = [];
    for (const m of this.members.values()) if (!m.isLearner && this.up(m)) up.push(m);
    return up;
  }

  /** `v` (up) with the `up` voters it reaches (itself included) makes `q`: `linked` for up members. */
  private reachesMajority(v: ModelMember, up: readonly ModelMember[], q: number): boolean {
    let n = 0;
    for (const w of up) if ((w === v || this.net.reach(v.ip, w.ip)) && ++n >= q) return true;
    return false;
  }

  private elect(): void {
    if (this.leaderId) return;
    const candidates = this.electable();
    if (candidates.length === 0) return;
    const best = Math.max(...candidates.map((c) => c.frozenIndex));
    const winner = this.k.rng.pick(candidates.filter((c) => c.frozenIndex === best));
    this.leaderId = winner.id;
    this.formerLeader = undefined;
    this.term++;
    this.stats.elections++;
    this.commitBase = Math.max(this.commitBase, winner.frozenIndex) + 1;
    this.commitBaseAt = this.k.now();
    this.k.log('etcd', `leader ${winner.id} (${winner.name}) elected, term ${this.term}`);
    this.refresh();
  }

  // ---- what a node does -------------------------------------------------------------------

  memberByPeerIp(ip: string): ModelMember | undefined {
    for (const m of this.members.values()) if (m.ip === ip) return m;
    return undefined;
  }

  /** A node starts its etcd member with its join parameters; returns an error text when etcd would exit. */
  startMember(ip: string, params: JoinParameters): string | undefined {
    if (params.initialClusterState === 'new') {
      const existing = this.memberByPeerIp(ip);
      if (existing) return this.restart(ip);
      if (this.members.size > 0) {
        this.secondSeed = `${params.name} seeded a new cluster while one exists`;
        return 'a second cluster was seeded over an existing one';
      }
      const m = this.newMember(ip, false);
      m.name = params.name;
      m.started = true;
      m.running = true;
      m.clientURL = clientURL(ip, this.scheme, this.clientPort);
      this.leaderId = m.id;
      this.commitBaseAt = this.k.now();
      m.connectedSince = this.k.now();
      m.syncedAt = this.k.now();
      this.k.log('etcd', `seed member ${m.id} (${m.name}) started a new cluster`);
      this.refresh();
      return undefined;
    }
    const m = this.memberByPeerIp(ip);
    if (!m) return 'etcdmain: member has been removed or was never added (peer URL not in the cluster)';
    if (params.memberId && params.memberId !== m.id)
      return `etcdmain: member id mismatch (${params.memberId} != ${m.id})`;
    m.name = params.name;
    m.started = true;
    m.running = true;
    m.clientURL = clientURL(ip, this.scheme, this.clientPort);
    this.k.log('etcd', `member ${m.id} (${m.name}) started${m.isLearner ? ' as learner' : ''}`);
    this.refresh();
    return undefined;
  }

  crash(ip: string): void {
    const m = this.memberByPeerIp(ip);
    if (!m?.running) return;
    m.running = false;
    this.refresh();
  }

  /** systemd restarts the etcd service; fails if the member was removed meanwhile. */
  restart(ip: string): string | undefined {
    const m = this.memberByPeerIp(ip);
    if (!m) return 'etcdserver: the member has been permanently removed from the cluster';
    if (!m.running) {
      m.running = true;
      this.refresh();
    }
    return undefined;
  }

  private newMember(ip: string, isLearner: boolean): ModelMember {
    let id = this.k.rng.uint64();
    while (this.members.has(id)) id = this.k.rng.uint64();
    const m: ModelMember = {
      id,
      name: '',
      peerURL: peerURL(ip, this.scheme),
      clientURL: undefined,
      ip,
      isLearner,
      started: false,
      running: false,
      connectedSince: undefined,
      syncedAt: 0,
      frozenIndex: 0,
    };
    this.members.set(id, m);
    return m;
  }

  // ---- the client API (what the reconciler calls) -----------------------------------------

  /** The member serving `endpoint`, or the error a client would get. */
  private serving(endpoint: string, allowLearner: boolean): ModelMember {
    const ip = hostOfURL(endpoint);
    if (!this.net.reconcilerReach(ip)) {
      throw new EtcdError('timeout', `dial tcp ${ip}:${this.clientPort}: i/o timeout`, DEADLINE_EXCEEDED);
    }
    const m = this.memberByPeerIp(ip);
    if (!m?.running || !m.started) {
      throw new EtcdError('unavailable', `connect ECONNREFUSED ${ip}:${this.clientPort}`, UNAVAILABLE);
    }
    if (m.isLearner && !allowLearner) {
      throw new EtcdError('unavailable', 'etcdserver: rpc not supported for learner', UNAVAILABLE);
    }
    return m;
  }

  private needLeader(m: ModelMember): ModelMember {
    const leader = this.leaderId ? this.members.get(this.leaderId) : undefined;
    if (!leader || !this.linked(leader, m)) {
      throw new EtcdError('timeout', 'etcdserver: request timed out', DEADLINE_EXCEEDED);
    }
    return leader;
  }

  private reply(m: ModelMember): EtcdMemberReply {
    return {
      id: m.id,
      name: m.name,
      peerURLs: [m.peerURL],
      clientURLs: m.started && m.clientURL ? [m.clientURL] : [],
      isLearner: m.isLearner,
    };
  }

  list(): EtcdMemberReply[] {
    return [...this.members.values()].map((m) => this.reply(m));
  }

  /**
   * etcd 3.5's MemberAdd check (isConnectedToQuorumAfterAddingNewMemberSince): a one-voter cluster
   * may always grow; otherwise the voters connected to the leader for HealthInterval (itself
   * included) must be a quorum of the cluster with the new member counted as unavailable.
   */
  private connectedToQuorumAfterAdd(leader: ModelMember): boolean {
    const voters = this.voters();
    if (voters.length === 1) return true;
    const since = this.k.now() - HEALTH_INTERVAL_MS;
    const connected = voters.filter(
      (v) => v === leader || (v.connectedSince !== undefined && v.connectedSince <= since && this.up(v)),
    ).length;
    return connected >= this.quorum(voters.length + 1);
  }

  private refuse(e: EtcdError): never {
    this.stats.refused++;
    throw e;
  }

  readonly port: EtcdPort = {
    listMembers: async (endpoint) => {
      this.serving(endpoint, false);
      return this.list();
    },
    addLearner: async (endpoint, peerURL) => {
      const m = this.serving(endpoint, false);
      const request: MembershipRequest = { kind: 'add-learner', peerURL };
      this.onRequest(request);
      const leader = this.needLeader(m);
      if ([...this.members.values()].some((x) => x.peerURL === peerURL)) {
        this.refuse(
          new EtcdError('precondition', 'etcdserver: Peer URLs already exists', FAILED_PRECONDITION),
        );
      }
      if (this.learners().length >= 1) {
        this.refuse(
          new EtcdError(
            'precondition',
            'etcdserver: too many learner members in cluster',
            FAILED_PRECONDITION,
          ),
        );
      }
      if (!this.connectedToQuorumAfterAdd(leader)) {
        this.refuse(new EtcdError('unavailable', 'etcdserver: unhealthy cluster', UNAVAILABLE));
      }
      this.onExecuted(request);
      const added = this.newMember(hostOfURL(peerURL), true);
      added.peerURL = peerURL;
      this.stats.adds++;
      this.bump();
      this.k.log('etcd', `member ${added.id} added as learner (${peerURL})`);
      this.refresh();
      return { member: this.reply(added), members: this.list() };
    },
    promoteMember: async (endpoint, memberId) => {
      const m = this.serving(endpoint, false);
      const request: MembershipRequest = { kind: 'promote', memberId };
      this.onRequest(request);
      const leader = this.needLeader(m);
      const target = this.members.get(memberId);
      if (!target) this.refuse(new EtcdError('not-found', 'etcdserver: member not found', NOT_FOUND));
      if (!target.isLearner) {
        this.refuse(
          new EtcdError('precondition', 'etcdserver: can only promote a learner member', FAILED_PRECONDITION),
        );
      }
      if (
        this.indexOf(target) < this.indexOf(leader) * 0.9 ||
        !target.running ||
        target.connectedSince === undefined
      ) {
        this.refuse(
          new EtcdError(
            'precondition',
            'etcdserver: can only promote a learner member which is in sync with leader',
            FAILED_PRECONDITION,
          ),
        );
      }
      const startedVoters = this.voters().filter((v) => v.started).length + 1;
      if (startedVoters < this.quorum(this.voters().length + 1)) {
        this.refuse(
          new EtcdError(
            'precondition',
            'etcdserver: re-configuration failed due to not enough started members',
            FAILED_PRECONDITION,
          ),
        );
      }
      this.onExecuted(request);
      target.isLearner = false;
      this.stats.promotes++;
      this.bump();
      this.k.log('etcd', `member ${target.id} (${target.name}) promoted to voter`);
      this.refresh();
    },
    removeMember: async (endpoint, memberId) => {
      const m = this.serving(endpoint, false);
      const request: MembershipRequest = { kind: 'remove', memberId };
      this.onRequest(request);
      const leader = this.needLeader(m);
      const target = this.members.get(memberId);
      if (!target) this.refuse(new EtcdError('not-found', 'etcdserver: member not found', NOT_FOUND));
      if (!target.isLearner) {
        const voters = this.voters();
        const startedAfter = voters.filter((v) => v.started && v !== target).length;
        if (startedAfter < this.quorum(voters.length - 1)) {
          this.refuse(
            new EtcdError(
              'precondition',
              'etcdserver: re-configuration failed due to not enough started members',
              FAILED_PRECONDITION,
            ),
          );
        }
        const targetActive = target === leader || target.connectedSince !== undefined;
        if (targetActive) {
          const since = this.k.now() - HEALTH_INTERVAL_MS;
          const active = voters.filter(
            (v) => v === leader || (v.connectedSince !== undefined && v.connectedSince <= since),
          ).length;
          if (active - 1 < 1 + Math.floor((voters.length - 1) / 2)) {
            this.refuse(new EtcdError('unavailable', 'etcdserver: unhealthy cluster', UNAVAILABLE));
          }
        }
      }
      this.onExecuted(request);
      this.members.delete(target.id);
      this.stats.removes++;
      this.bump();
      this.k.log('etcd', `member ${target.id} (${target.name || 'unstarted'}) removed`);
      // The removed leader steps down once the change commits, and says so (the model reports no leader
      // until the next election rather than the stale one).
      if (target.id === this.leaderId) this.loseLeader('the leader was removed', false);
      if (target.running) {
        target.running = false;
        this.onRemoved(target);
      }
      this.refresh();
    },
    status: async (endpoint) => {
      const m = this.serving(endpoint, true);
      const leader = this.leaderId ? this.members.get(this.leaderId) : undefined;
      const seesLeader = !!leader && this.linked(leader, m);
      const index = this.indexOf(m);
      // A follower still names the leader it lost until its election timeout (no error meanwhile).
      const former =
        !leader &&
        this.formerLeader &&
        this.k.now() < this.formerLeader.namedUntil &&
        m.id !== this.formerLeader.id
          ? this.formerLeader.id
          : undefined;
      const reply: EtcdMemberStatusReply = {
        memberId: m.id,
        leaderId: seesLeader ? (leader as ModelMember).id : (former ?? '0'),
        raftIndex: index,
        raftAppliedIndex: index,
        raftTerm: this.term,
        isLearner: m.isLearner,
        dbSize: 2_097_152 + index * 64,
        version: ETCD_VERSION,
      };
      if (!seesLeader && former === undefined) reply.errors = ['etcdserver: no leader'];
      return reply;
    },
    moveLeader: async (leaderEndpoint, targetMemberId) => {
      const m = this.serving(leaderEndpoint, false);
      if (m.id !== this.leaderId) {
        this.refuse(new EtcdError('precondition', 'etcdserver: not leader', FAILED_PRECONDITION));
      }
      const target = this.members.get(targetMemberId);
      if (!target || target.isLearner || !this.linked(m, target)) {
        this.refuse(new EtcdError('precondition', 'etcdserver: bad leader transferee', FAILED_PRECONDITION));
      }
      this.leaderId = target.id;
      this.term++;
      this.k.log('etcd', `leadership moved ${m.id} -> ${target.id} (${target.name}), term ${this.term}`);
      this.refresh();
    },
    alarms: async (endpoint) => {
      this.serving(endpoint, true);
      return [];
    },
  };
}
