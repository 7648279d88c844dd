/**
 * The etcd client against real etcd clusters of the pinned release (3 and 5 members, mutual TLS, started by the
 * product's etcd-member.sh), one rule of the membership reference per test.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../../src/adapters/etcd/client.js';
import { gatewayError } from '../../src/adapters/etcd/gateway.js';
import { EtcdError } from '../../src/heal/ports.js';
import { locateEtcdTool } from '../../src/sim/etcd-bin.js';
import { type EtcdTestCluster, startEtcdCluster } from '../support/etcd-cluster.js';
import { issueClientCert, makeCa, readTls } from '../support/pki.js';
import { freePort } from '../support/ports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The EtcdError `promise` rejects with (fails the test when it resolves or throws something else). */
async function etcdError(promise: Promise<unknown>): Promise<EtcdError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EtcdError);
  return err as EtcdError;
}

/** Retries `f` while it fails with the given kind (e.g. a learner that has not caught up yet). */
async function retryWhile<T>(kind: string, f: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      if ((err as EtcdError).kind !== kind || Date.now() > deadline) throw err;
    }
    await sleep(100);
  }
}

describe('etcd client against a real 3-member TLS cluster', () => {
  let c: EtcdTestCluster;
  beforeAll(async () => {
    c = await startEtcdCluster({ size: 3 });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('lists members with their exact uint64 ids as decimal strings', async () => {
    const members = await c.client.listMembers(c.endpoint());
    expect(members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    for (const m of members) {
      expect(m.id).toMatch(/^[1-9]\d*$/);
      expect(BigInt(m.id).toString()).toBe(m.id);
      expect(m.isLearner).toBe(false);
      const own = c.member(m.name);
      expect(m.peerURLs).toEqual([own.peerURL]);
      expect(m.clientURLs).toEqual([own.clientURL]);
      // The member's own status names the same id, digit for digit (no float rounding).
      expect((await c.client.status(own.clientURL)).memberId).toBe(m.id);
    }
  });

  it('reads each member status: one leader all agree on, raft indexes, version', async () => {
    const ids = (await c.client.listMembers(c.endpoint())).map((m) => m.id);
    const statuses = await Promise.all(c.endpoints().map((e) => c.client.status(e)));
    const leaders = new Set(statuses.map((s) => s.leaderId));
    expect(leaders.size).toBe(1);
    expect(ids).toContain([...leaders][0]);
    for (const s of statuses) {
      expect(s.version).toBe(locateEtcdTool('etcd').version);
      expect(s.raftIndex).toBeGreaterThan(0);
      expect(s.raftAppliedIndex).toBeGreaterThan(0);
      expect(s.raftTerm).toBeGreaterThan(0);
      expect(s.dbSize).toBeGreaterThan(0);
      expect(s.isLearner).toBe(false);
    }
  });

  it('reads alarms (none on a fresh cluster)', async () => {
    expect(await c.client.alarms(c.endpoint())).toEqual([]);
  });

  it('streams a snapshot whose trailing sha256 matches its content', async () => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of c.client.snapshot(c.endpoint())) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    expect(bytes.length).toBeGreaterThan(32 + 4096);
    const body = bytes.subarray(0, bytes.length - 32);
    const digest = bytes.subarray(bytes.length - 32);
    expect(createHash('sha256').update(body).digest().equals(digest)).toBe(true);
  });

  it('joins a member: learner add is idempotent, one learner at a time, promote once caught up', async () => {
    await c.waitReconfigurable();
    const ep = c.endpoint();
    const m4 = await c.allocate('m4');

    const added = await c.client.addLearner(ep, m4.peerURL);
    expect(added.member).toMatchObject({ name: '', peerURLs: [m4.peerURL], clientURLs: [], isLearner: true });
    expect(added.members).toHaveLength(4);

    // A retry of the same add finds the member instead of adding a second one.
    const again = await c.client.addLearner(ep, m4.peerURL);
    expect(again.member.id).toBe(added.member.id);
    expect(await c.client.listMembers(ep)).toHaveLength(4);

    // etcd allows one learner at a time.
    const m5 = await c.allocate('m5');
    const tooMany = await etcdError(c.client.addLearner(ep, m5.peerURL));
    expect(tooMany.kind).toBe('precondition');
    expect(tooMany.grpcCode).toBe(9);
    expect(tooMany.message).toMatch(/too many learner members/);

    // Promotion before the learner's process runs is refused.
    const early = await etcdError(c.client.promoteMember(ep, added.member.id));
    expect(early.kind).toBe('precondition');
    expect(early.message).toMatch(/in sync with leader/);

    // Its process joins through etcd-member.sh (state existing); a learner serves status only.
    await c.addProcess(m4, added.members);
    const learnerStatus = await c.client.status(m4.clientURL);
    expect(learnerStatus.isLearner).toBe(true);
    expect(learnerStatus.memberId).toBe(added.member.id);
    const refused = await etcdError(c.client.listMembers(m4.clientURL));
    expect(refused.kind).toBe('unavailable');
    expect(refused.message).toMatch(/not supported for learner/);

    await retryWhile('precondition', () => c.client.promoteMember(ep, added.member.id));
    // The member list is served from the member's local copy: the promotion may land there a moment later.
    let promoted = (await c.client.listMembers(ep)).find((m) => m.id === added.member.id);
    for (let i = 0; i < 50 && promoted?.isLearner; i++) {
      await new Promise((r) => setTimeout(r, 100));
      promoted = (await c.client.listMembers(ep)).find((m) => m.id === added.member.id);
    }
    expect(promoted).toMatchObject({ name: 'm4', isLearner: false, clientURLs: [m4.clientURL] });
    // Promoting a voter again is "already done".
    await c.client.promoteMember(ep, added.member.id);
    // Now a voter, its endpoint serves membership calls.
    expect(await c.client.listMembers(m4.clientURL)).toHaveLength(4);

    // Remove, and remove again: the second is "already done" (404 member not found).
    await c.client.removeMember(ep, added.member.id);
    await c.client.removeMember(ep, added.member.id);
    const after = await c.client.listMembers(ep);
    expect(after.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    await c.kill(m4);
  });

  it('moves leadership when asked at the leader, refuses at a non-leader', async () => {
    const leader = await c.leader();
    const [target, other] = c.running().filter((m) => m !== leader);
    const targetId = await c.idOf(target!);

    const notLeader = await etcdError(c.client.moveLeader(other!.clientURL, targetId));
    expect(notLeader.kind).toBe('precondition');
    expect(notLeader.message).toMatch(/not leader/);

    await c.client.moveLeader(leader.clientURL, targetId);
    const deadline = Date.now() + 5000;
    let now = '';
    while (Date.now() < deadline) {
      now = (await c.client.status(other!.clientURL)).leaderId;
      if (now === targetId) break;
      await sleep(50);
    }
    expect(now).toBe(targetId);
  });

  it('reports an unreachable member as unavailable and a silent one as a timeout', async () => {
    const port = await freePort();
    const refused = await etcdError(c.client.status(`https://127.0.0.1:${port}`));
    expect(refused.kind).toBe('unavailable');

    const quick = createEtcdClient({ tls: c.tls, timeoutMs: 300 });
    const victim = c.running().at(-1)!;
    c.pause(victim);
    try {
      const timeout = await etcdError(quick.status(victim.clientURL));
      expect(timeout.kind).toBe('timeout');
      expect(timeout.message).toMatch(/within 300 ms/);
    } finally {
      c.resume(victim);
      quick.close();
    }
    await c.waitServing(victim);
  });

  it('refuses clients without a certificate or with one from another CA (mutual TLS)', async () => {
    const noCert = createEtcdClient({ tls: { ca: c.tls!.ca } as never, timeoutMs: 3000 });
    const dir = await mkdtemp(join(tmpdir(), 'tripod-foreign-ca-'));
    try {
      const err = await etcdError(noCert.listMembers(c.endpoint()));
      expect(err.kind).not.toBe('timeout');
      expect(err.message).toMatch(/refused the TLS handshake/);

      const foreignCa = await makeCa(dir, 'someone-else');
      const foreign = await readTls(foreignCa.cert, await issueClientCert(dir, dir, 'intruder'));
      const intruder = createEtcdClient({ tls: { ...foreign, ca: c.tls!.ca }, timeoutMs: 3000 });
      const err2 = await etcdError(intruder.listMembers(c.endpoint()));
      expect(err2.message).toMatch(/refused the TLS handshake/);
      intruder.close();

      // And the client refuses a server its CA did not sign.
      const wrongTrust = createEtcdClient({ tls: { ...c.tls!, ca: foreign.ca }, timeoutMs: 3000 });
      const err3 = await etcdError(wrongTrust.listMembers(c.endpoint()));
      expect(err3.message).toMatch(/certificate is not trusted/);
      wrongTrust.close();
    } finally {
      noCert.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('etcd client against a real 5-member TLS cluster', () => {
  let c: EtcdTestCluster;
  beforeAll(async () => {
    c = await startEtcdCluster({ size: 5 });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('lists 5 voters that agree on one leader', async () => {
    const members = await c.client.listMembers(c.endpoint());
    expect(members).toHaveLength(5);
    expect(members.every((m) => !m.isLearner && /^\d+$/.test(m.id))).toBe(true);
    const leaders = new Set(
      (await Promise.all(c.endpoints().map((e) => c.client.status(e)))).map((s) => s.leaderId),
    );
    expect(leaders.size).toBe(1);
    expect(members.map((m) => m.id)).toContain([...leaders][0]);
  });

  it('MemberAdd needs a quorum of the grown cluster connected (strict reconfig, etcd 3.5): one dead of 5 is fine, two are not until one is removed', async () => {
    await c.waitReconfigurable();
    const leader = await c.leader();
    const [dead1, dead2] = c
      .running()
      .filter((m) => m !== leader)
      .slice(-2);
    const dead1Id = await c.idOf(dead1!);
    await c.kill(dead1!);
    const ep = leader.clientURL;

    // 4 of 5 connected: after the add, 4 of 6 is still a quorum, so etcd 3.5 accepts it.
    const first = await c.allocate('m6');
    const added1 = await c.client.addLearner(ep, first.peerURL);
    expect(added1.member.isLearner).toBe(true);
    await c.client.removeMember(ep, added1.member.id); // a learner: no quorum check

    // 3 of 5 connected: after the add, 3 of 6 is no quorum.
    await c.kill(dead2!);
    const second = await c.allocate('m7');
    const refused = await etcdError(c.client.addLearner(ep, second.peerURL));
    expect(refused.kind).toBe('unavailable');
    expect(refused.grpcCode).toBe(14);
    expect(refused.message).toMatch(/unhealthy cluster/);
    expect(await c.client.listMembers(ep)).toHaveLength(5);

    // Removing a dead member is allowed (it is not part of the active quorum)...
    await c.client.removeMember(ep, dead1Id);
    expect((await c.client.listMembers(ep)).map((m) => m.id)).not.toContain(dead1Id);
    // ...and then 3 of 4 connected is a quorum of 5: the add goes through.
    const added = await c.client.addLearner(ep, second.peerURL);
    expect(added.member.isLearner).toBe(true);
    expect(added.members).toHaveLength(5);
    await c.client.removeMember(ep, added.member.id);
  });
});

describe('etcd client over plain HTTP (tests only)', () => {
  let c: EtcdTestCluster;
  beforeAll(async () => {
    c = await startEtcdCluster({ size: 1, scheme: 'http' });
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('lists, reads status and adds/removes a learner without TLS', async () => {
    const ep = c.endpoint();
    expect(ep).toMatch(/^http:\/\//);
    const [only] = await c.client.listMembers(ep);
    expect(only?.name).toBe('m1');
    expect((await c.client.status(ep)).leaderId).toBe(only?.id);
    const m2 = await c.allocate('m2');
    const added = await c.client.addLearner(ep, m2.peerURL);
    expect(added.member.peerURLs).toEqual([m2.peerURL]);
    await c.client.removeMember(ep, added.member.id);
    expect(await c.client.listMembers(ep)).toHaveLength(1);
  });

  it('re-adds a peer URL removed within the same second (etcd would reuse the removed id)', async () => {
    const ep = c.endpoint();
    const m3 = await c.allocate('m3');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { member } = await c.client.addLearner(ep, m3.peerURL);
      ids.push(member.id);
      await c.client.removeMember(ep, member.id);
    }
    expect(new Set(ids).size).toBe(3);
    expect(await c.client.listMembers(ep)).toHaveLength(1);
  });
});

describe('etcd gateway error mapping', () => {
  it('types errors by gRPC code first, then by HTTP status', () => {
    const cases: Array<[number, string, string, number | undefined]> = [
      [412, '{"error":"x","message":"etcdserver: not leader","code":9}', 'precondition', 9],
      [404, '{"error":"x","message":"etcdserver: member not found","code":5}', 'not-found', 5],
      [503, '{"error":"x","message":"etcdserver: unhealthy cluster","code":14}', 'unavailable', 14],
      [500, '{"error":"x","message":"deadline","code":4}', 'timeout', 4],
      [503, 'upstream down', 'unavailable', undefined],
      [504, '', 'timeout', undefined],
      [400, '{"error":"bad","message":"bad request","code":3}', 'other', 3],
    ];
    for (const [status, body, kind, code] of cases) {
      const err = gatewayError('etcd https://10.0.0.1:2379/v3/x', status, body);
      expect(err.kind, body).toBe(kind);
      expect(err.grpcCode, body).toBe(code);
      expect(err.message).toMatch(/^etcd https:\/\/10\.0\.0\.1:2379\/v3\/x: /);
    }
  });

  it('surfaces an error line in the middle of a snapshot stream', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"result":{"blob":"${Buffer.from('abc').toString('base64')}"}}\n`);
      res.end('{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: server stopped"}}\n');
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const client = createEtcdClient({ timeoutMs: 2000 });
    const got: string[] = [];
    try {
      const err = await etcdError(
        (async () => {
          for await (const chunk of client.snapshot(`http://127.0.0.1:${port}`))
            got.push(Buffer.from(chunk).toString());
        })(),
      );
      expect(err.kind).toBe('unavailable');
      expect(err.message).toMatch(/server stopped/);
      expect(got).toEqual(['abc']);
    } finally {
      client.close();
      server.close();
    }
  });
});
