/**
 * Disaster recovery end to end against real etcd (3-member TLS cluster on loopback) and moto's S3:
 * write keys, back up, lose a majority for good, restore the snapshot into a new one-member cluster,
 * read every key back, grow back to 3 and then 5 voters through learner joins. A corrupt or
 * truncated snapshot is refused before anything changes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createS3Backup, etcdSnapshotSource, type S3Backup } from '../../src/adapters/aws/s3-backup.js';
import { Gateway } from '../../src/adapters/etcd/gateway.js';
import { EtcdError } from '../../src/heal/ports.js';
import { planRestore, RestoreError, restoreSnapshotOnNode } from '../../src/heal/restore.js';
import { locateEtcdTool } from '../../src/sim/etcd-bin.js';
import { type EtcdTestCluster, type EtcdTestMember, startEtcdCluster } from '../support/etcd-cluster.js';

const REGION = 'eu-south-1';
const KEYS = 250;
const etcdutl = locateEtcdTool('etcdutl').path;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: EtcdTestCluster;
let gateway: Gateway;
let s3: S3Client;
let backup: S3Backup;
let source: ReturnType<typeof etcdSnapshotSource>;
let dir: string;

async function put(endpoint: string, key: string, value: string) {
  await gateway.call(endpoint, '/v3/kv/put', { key: b64(key), value: b64(value) });
}

/** Every `k/` key with its value (a linearizable read: it needs a working cluster). */
async function readAll(endpoint: string): Promise<Map<string, string>> {
  const r = await gateway.call<{ kvs?: Array<{ key: string; value?: string }> }>(endpoint, '/v3/kv/range', {
    key: b64('k/'),
    range_end: b64('k0'),
  });
  return new Map((r.kvs ?? []).map((kv) => [unb64(kv.key), unb64(kv.value ?? '')]));
}

/** Joins `m` as a learner through `endpoint`, starts it, promotes it once caught up. */
async function joinAsLearner(endpoint: string, m: EtcdTestMember) {
  const { member, members } = await cluster.retryWhileUnavailable(
    () => cluster.client.addLearner(endpoint, m.peerURL),
    30,
  );
  await cluster.addProcess(m, members);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await cluster.client.promoteMember(endpoint, member.id);
      return;
    } catch (e) {
      // 412 "not in sync" until the learner caught up; 503 right after a change.
      if (
        !(e instanceof EtcdError) ||
        !['precondition', 'unavailable'].includes(e.kind) ||
        Date.now() > deadline
      ) {
        throw e;
      }
    }
    await sleep(200);
  }
}

beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3 });
  gateway = new Gateway({ tls: cluster.tls, timeoutMs: 5000 });
  source = etcdSnapshotSource({ tls: cluster.tls });
  s3 = new S3Client({
    region: REGION,
    endpoint: inject('motoEndpoint'),
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const bucket = `restore-${process.pid}-${Date.now().toString(36)}`;
  await s3.send(
    new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
  backup = createS3Backup({ s3, bucket, cluster: 'dr', source });
  dir = mkdtempSync(join(tmpdir(), 'tripod-restore-'));
});

afterAll(async () => {
  await cluster?.stop();
  gateway?.close();
  source?.close();
  s3?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('disaster recovery with real etcd', () => {
  it('backs up, loses a majority, restores into a new cluster with every key, and grows back to 3 and 5 voters', async () => {
    const ep = cluster.endpoint();
    for (let i = 0; i < KEYS; i++)
      await put(ep, `k/${String(i).padStart(4, '0')}`, `value-${i}-${'x'.repeat(i % 50)}`);
    const before = await readAll(ep);
    expect(before.size).toBe(KEYS);

    // A linearizable read on m1 first: m1 (a follower) has applied every write before it is asked
    // for its revision (under load it may still lag by an entry or two).
    expect((await readAll(cluster.endpoint('m1'))).size).toBe(KEYS);
    const written = await backup.snapshot(cluster.endpoint('m1'), 'test: before disaster');
    expect(written.revision).toBeGreaterThanOrEqual(KEYS + 1);
    expect(written.key).toMatch(/^dr\/.*-rev\d+\.db$/);

    // A majority dies for good; the survivor has no quorum (a linearizable read fails).
    await cluster.kill('m1');
    await cluster.kill('m2');
    await expect(readAll(cluster.endpoint())).rejects.toThrow();

    // The plan: newest completed snapshot; the seed is a fresh node (the survivor leaves too).
    const plan = planRestore({
      cluster: 'dr',
      snapshots: await backup.list(),
      expectedMasters: 3,
      instances: [],
    });
    expect(plan.snapshot.key).toBe(written.key);
    await cluster.kill('m3');

    const seed = await cluster.allocate('r1');
    const file = join(dir, 'restore.db');
    const manifest = await backup.download(plan.snapshot.key, file);
    const restored = await restoreSnapshotOnNode({
      snapshotPath: file,
      expectedSha256: manifest.sha256,
      name: seed.name,
      peerURL: seed.peerURL,
      dataDir: seed.dataDir,
      etcdutl,
    });
    expect(restored.movedAside).toBeUndefined();
    cluster.startMember(seed, { initialCluster: `${seed.name}=${seed.peerURL}`, state: 'new' });
    await cluster.waitServing(seed);

    const members = await cluster.client.listMembers(seed.clientURL);
    expect(members.map((m) => m.name)).toEqual(['r1']);
    expect(await readAll(seed.clientURL)).toEqual(before);

    // Grow back through learner joins, one at a time: 3, then 5 voters.
    for (const name of ['r2', 'r3']) await joinAsLearner(seed.clientURL, await cluster.allocate(name));
    let list = await cluster.client.listMembers(seed.clientURL);
    expect(list.filter((m) => !m.isLearner).length).toBe(3);
    expect(await readAll(cluster.member('r3').clientURL)).toEqual(before);

    for (const name of ['r4', 'r5']) await joinAsLearner(seed.clientURL, await cluster.allocate(name));
    list = await cluster.client.listMembers(seed.clientURL);
    expect(list.map((m) => m.name).sort()).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(list.every((m) => !m.isLearner)).toBe(true);

    // The new cluster takes writes and survives losing two of five.
    await cluster.kill('r1');
    await cluster.kill('r2');
    const ep5 = cluster.member('r5').clientURL;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await put(ep5, 'k/after', 'restore');
        break;
      } catch (e) {
        // A new leader is being elected: the write waits for it.
        if (!(e instanceof EtcdError) || Date.now() > deadline) {
          const tails = ['r3', 'r4', 'r5'].map((n) => `${n}:\n${cluster.logTail(cluster.member(n), 8)}`);
          throw new Error(`${(e as Error).message}\n${tails.join('\n')}`);
        }
      }
    }
    const after = await readAll(ep5);
    expect(after.get('k/after')).toBe('restore');
    expect(after.size).toBe(KEYS + 1);
  });

  it('refuses a corrupt or truncated snapshot before changing anything', async () => {
    // A real snapshot from etcd (the cluster of the test above may be gone: make a fresh one).
    const small = await startEtcdCluster({ size: 1, namePrefix: 'c' });
    const src = etcdSnapshotSource({ tls: small.tls });
    try {
      const chunks: Buffer[] = [];
      for await (const c of src.snapshot(small.endpoint())) chunks.push(Buffer.from(c));
      const good = Buffer.concat(chunks);
      const sha = createHash('sha256').update(good).digest('hex');

      const dataDir = join(dir, 'existing-data');
      mkdirSync(join(dataDir, 'member'), { recursive: true });
      writeFileSync(join(dataDir, 'member', 'marker'), 'old data');
      const params = { expectedSha256: sha, name: 'x1', peerURL: 'https://127.0.0.1:1', dataDir, etcdutl };

      const corrupt = Buffer.from(good);
      corrupt[Math.floor(corrupt.length / 2)] = (corrupt[Math.floor(corrupt.length / 2)] ?? 0) ^ 0x01;
      writeFileSync(join(dir, 'corrupt.db'), corrupt);
      const e1 = await restoreSnapshotOnNode({ ...params, snapshotPath: join(dir, 'corrupt.db') }).catch(
        (e) => e,
      );
      expect(e1).toBeInstanceOf(RestoreError);
      expect(e1.message).toMatch(
        /is corrupt or truncated: its SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}.*Nothing was changed/,
      );

      writeFileSync(join(dir, 'truncated.db'), good.subarray(0, good.length - 4096));
      const e2 = await restoreSnapshotOnNode({ ...params, snapshotPath: join(dir, 'truncated.db') }).catch(
        (e) => e,
      );
      expect(e2.message).toMatch(/corrupt or truncated/);

      // Even with a matching SHA-256 (a hash recorded for bad bytes), etcd's own trailer catches it.
      const corruptSha = createHash('sha256').update(corrupt).digest('hex');
      const e3 = await restoreSnapshotOnNode({
        ...params,
        expectedSha256: corruptSha,
        snapshotPath: join(dir, 'corrupt.db'),
      }).catch((e) => e);
      expect(e3.message).toMatch(/no valid etcd hash trailer/);

      // Nothing changed: the old data directory is where it was, untouched.
      expect(readFileSync(join(dataDir, 'member', 'marker'), 'utf8')).toBe('old data');

      // The good snapshot restores, and the old data is moved aside, not deleted.
      writeFileSync(join(dir, 'good.db'), good);
      const ok = await restoreSnapshotOnNode({ ...params, snapshotPath: join(dir, 'good.db') });
      expect(ok.movedAside).toMatch(/existing-data\.before-restore-/);
      expect(readFileSync(join(ok.movedAside ?? '', 'member', 'marker'), 'utf8')).toBe('old data');
    } finally {
      src.close();
      await small.stop();
    }
  });
});
