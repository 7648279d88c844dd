/**
 * Latency of the etcd client's calls against a real 3-member TLS cluster on loopback (started by the
 * test harness through etcd-member.sh). Prints one line per call: count, mean, p50, p95, max in ms.
 *
 *   npx tsx bench/etcd-client.ts [iterations=200]
 */
import { createEtcdClient } from '../src/adapters/etcd/client.js';
import { startEtcdCluster } from '../test/support/etcd-cluster.js';

const iterations = Number(process.argv[2] ?? 200);

function summary(name: string, samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  console.log(
    `${name.padEnd(34)} n=${String(s.length).padStart(4)}  mean ${mean.toFixed(2).padStart(7)} ms  p50 ${at(
      0.5,
    )
      .toFixed(2)
      .padStart(
        7,
      )} ms  p95 ${at(0.95).toFixed(2).padStart(7)} ms  max ${s.at(-1)!.toFixed(2).padStart(7)} ms`,
  );
}

async function time(n: number, f: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f(i);
    out.push(performance.now() - t);
  }
  return out;
}

const started = performance.now();
const cluster = await startEtcdCluster({ size: 3 });
console.log(`3-member TLS cluster serving in ${(performance.now() - started).toFixed(0)} ms`);
try {
  const c = cluster.client;
  const ep = cluster.endpoint();
  await c.status(ep); // warm the connection pool

  summary('listMembers (keep-alive)', await time(iterations, () => c.listMembers(ep)));
  summary('status (keep-alive)', await time(iterations, () => c.status(ep)));
  summary('alarms (keep-alive)', await time(iterations, () => c.alarms(ep)));
  summary(
    'status, new client (TLS handshake)',
    await time(Math.min(iterations, 50), async () => {
      const fresh = createEtcdClient({ tls: cluster.tls });
      await fresh.status(ep);
      fresh.close();
    }),
  );
  summary(
    'status of all 3 members, parallel',
    await time(iterations, () => Promise.all(cluster.endpoints().map((e) => c.status(e)))),
  );

  await cluster.waitReconfigurable();
  const joiner = await cluster.allocate('bench-learner');
  const adds: number[] = [];
  const removes: number[] = [];
  for (let i = 0; i < Math.min(iterations, 30); i++) {
    // A distinct peer URL per round: etcd derives ids from peer URL + second (see the re-add line).
    const peerURL = joiner.peerURL.replace(/:\d+$/, `:${40000 + i}`);
    let t = performance.now();
    const { member } = await c.addLearner(ep, peerURL);
    adds.push(performance.now() - t);
    t = performance.now();
    await c.removeMember(ep, member.id);
    removes.push(performance.now() - t);
  }
  summary('addLearner (list + add)', adds);
  summary('removeMember', removes);
  summary(
    're-add of a just-removed peer URL',
    await time(5, async () => {
      const { member } = await c.addLearner(ep, joiner.peerURL);
      await c.removeMember(ep, member.id);
    }),
  );

  let bytes = 0;
  const snap = await time(10, async () => {
    bytes = 0;
    for await (const chunk of c.snapshot(ep)) bytes += chunk.length;
  });
  summary(`snapshot (${bytes} bytes)`, snap);
} finally {
  await cluster.stop();
}
