/**
 * `EtcdPort` over etcd 3.5's v3 JSON gateway: membership (list, add learner, promote, remove),
 * maintenance (status, move leader, alarms) and the snapshot stream. No gRPC: Node's own HTTP
 * client with mutual TLS.
 *
 * Idempotent where a retry must be safe: adding a peer URL that is already a member returns that
 * member; removing a member that is gone and promoting a member that is already a voter succeed.
 */
import {
  EtcdError,
  type EtcdMemberReply,
  type EtcdMemberStatusReply,
  type EtcdPort,
} from '../../heal/ports.js';
import { type EtcdTls, Gateway } from './gateway.js';

export type { EtcdTls } from './gateway.js';

export interface EtcdClientOptions {
  /** Mutual TLS material (PEM). Without it only `http://` endpoints work (tests). */
  tls?: EtcdTls;
  /** Deadline per call, in milliseconds (for snapshots: per chunk). Default 5000. */
  timeoutMs?: number;
}

export interface EtcdClient extends EtcdPort {
  /** The serving member's database as a stream of bytes (etcd's snapshot format, sha256-terminated). */
  snapshot(endpoint: string): AsyncIterable<Uint8Array>;
  /** Closes pooled connections. */
  close(): void;
}

/** A member as the gateway writes it (false/empty fields omitted). */
interface WireMember {
  ID?: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}
interface WireHeader {
  member_id?: string;
}

const PATHS = {
  list: '/v3/cluster/member/list',
  add: '/v3/cluster/member/add',
  promote: '/v3/cluster/member/promote',
  remove: '/v3/cluster/member/remove',
  status: '/v3/maintenance/status',
  moveLeader: '/v3/maintenance/transfer-leadership',
  alarm: '/v3/maintenance/alarm',
  snapshot: '/v3/maintenance/snapshot',
} as const;

/** "can only promote a learner member" without "which is in sync": the member is a voter already. */
const ALREADY_VOTER = /can only promote a learner member(?! which is in sync)/;
const PEER_URL_EXISTS = /peerURL exists|Peer URLs already exists/i;

export function toMember(m: WireMember): EtcdMemberReply {
  return {
    id: m.ID ?? '0',
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: m.isLearner === true,
  };
}

/** A uint64 counter the gateway sends as a decimal string; raft indexes and sizes stay below 2^53. */
const count = (v: string | number | undefined): number => (v === undefined ? 0 : Number(v));

const samePeerURL = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export function createEtcdClient(options: EtcdClientOptions = {}): EtcdClient {
  const gateway = new Gateway({ tls: options.tls, timeoutMs: options.timeoutMs ?? 5000 });

  async function listMembers(endpoint: string): Promise<EtcdMemberReply[]> {
    const reply = await gateway.call<{ members?: WireMember[] }>(endpoint, PATHS.list);
    return (reply.members ?? []).map(toMember);
  }

  async function addLearner(endpoint: string, peerURL: string) {
    const find = (members: EtcdMemberReply[]) =>
      members.find((m) => m.peerURLs.some((u) => samePeerURL(u, peerURL)));
    const before = await listMembers(endpoint);
    const existing = find(before);
    if (existing) return { member: existing, members: before };
    const add = () =>
      gateway.call<{ member?: WireMember; members?: WireMember[] }>(endpoint, PATHS.add, {
        peerURLs: [peerURL],
        isLearner: true,
      });
    try {
      let reply: { member?: WireMember; members?: WireMember[] };
      try {
        reply = await add();
      } catch (err) {
        // etcd derives a new member's id from its peer URLs and the current second: re-adding a peer
        // URL removed within the same second yields the removed id, refused as "member not found".
        if (!(err instanceof EtcdError) || err.kind !== 'not-found') throw err;
        await new Promise((r) => setTimeout(r, 1050 - (Date.now() % 1000)));
        reply = await add();
      }
      if (!reply.member) throw new EtcdError('other', `etcd ${endpoint}${PATHS.add}: reply without member`);
      return { member: toMember(reply.member), members: (reply.members ?? []).map(toMember) };
    } catch (err) {
      // A concurrent add of the same peer URL won the race: that member is ours.
      if (err instanceof EtcdError && err.kind === 'precondition' && PEER_URL_EXISTS.test(err.message)) {
        const members = await listMembers(endpoint);
        const member = find(members);
        if (member) return { member, members };
      }
      throw err;
    }
  }

  async function promoteMember(endpoint: string, memberId: string): Promise<void> {
    try {
      await gateway.call(endpoint, PATHS.promote, { ID: memberId });
    } catch (err) {
      if (err instanceof EtcdError && err.kind === 'precondition' && ALREADY_VOTER.test(err.message)) return;
      throw err;
    }
  }

  async function removeMember(endpoint: string, memberId: string): Promise<void> {
    try {
      await gateway.call(endpoint, PATHS.remove, { ID: memberId });
    } catch (err) {
      if (err instanceof EtcdError && err.kind === 'not-found') return;
      throw err;
    }
  }

  async function status(endpoint: string): Promise<EtcdMemberStatusReply> {
    const r = await gateway.call<{
      header?: WireHeader;
      version?: string;
      dbSize?: string;
      leader?: string;
      raftIndex?: string;
      raftTerm?: string;
      raftAppliedIndex?: string;
      isLearner?: boolean;
      errors?: string[];
    }>(endpoint, PATHS.status);
    return {
      memberId: r.header?.member_id ?? '0',
      leaderId: r.leader ?? '0',
      raftIndex: count(r.raftIndex),
      raftAppliedIndex: count(r.raftAppliedIndex),
      raftTerm: count(r.raftTerm),
      isLearner: r.isLearner === true,
      dbSize: count(r.dbSize),
      version: r.version ?? '',
      // etcd 3.5 lists raised alarms here ("alarm:NOSPACE "); the gateway omits an empty list.
      errors: r.errors ?? [],
    };
  }

  async function moveLeader(leaderEndpoint: string, targetMemberId: string): Promise<void> {
    await gateway.call(leaderEndpoint, PATHS.moveLeader, { targetID: targetMemberId });
  }

  async function alarms(endpoint: string) {
    const r = await gateway.call<{ alarms?: Array<{ memberID?: string; alarm?: string }> }>(
      endpoint,
      PATHS.alarm,
      { action: 'GET' },
    );
    return (r.alarms ?? []).map((a) => ({ memberId: a.memberID ?? '0', alarm: a.alarm ?? 'NONE' }));
  }

  async function* snapshot(endpoint: string): AsyncGenerator<Uint8Array> {
    for await (const chunk of gateway.stream<{ blob?: string }>(endpoint, PATHS.snapshot)) {
      if (chunk.blob) yield Buffer.from(chunk.blob, 'base64');
    }
  }

  return {
    listMembers,
    addLearner,
    promoteMember,
    removeMember,
    status,
    moveLeader,
    alarms,
    snapshot,
    close: () => gateway.close(),
  };
}
