/**
 * Figures for the healing core:
 *  - `decide` time for a steady 5-master cluster, and with 1,000 workers' worth of extra rows in the
 *    observed state (1,000 more group instances and 1,000 more target registrations to scan);
 *  - etcd calls per steady-state pass (goal: at most M+1), counted by a counting EtcdPort wrapper,
 *    over in-memory ports and over the real etcd client against a real 5-member TLS cluster.
 *
 *   npx tsx bench/decide.ts [iterations=20000] [--no-real]
 */
import { decide } from '../src/heal/decide.js';
import { observe, observeEtcd } from '../src/heal/observe.js';
import type { EtcdPort } from '../src/heal/ports.js';
import { reconcilePass } from '../src/heal/reconcile.js';
import { startEtcdCluster } from '../test/support/etcd-cluster.js';
import { fakeWorld, healthy, inst, T0, testConfig } from '../test/support/fake-ports.js';

const iterations = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20_000);
const real = !process.argv.includes('--no-real');

function timeIt(label: string, n: number, f: () => unknown) {
  for (let k = 0; k < Math.min(1000, n); k++) f(); // warm-up
  const t = performance.now();
  for (let k = 0; k < n; k++) f();
  const us = ((performance.now() - t) * 1000) / n;
  console.log(`${label.padEnd(58)} ${us.toFixed(1).padStart(8)} µs/call  (n=${n})`);
}

/** Wraps an EtcdPort and counts its calls by method. */
function counting(inner: EtcdPort) {
  const counts: Record<string, number> = {};
  const port = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        counts[String(prop)] = (counts[String(prop)] ?? 0) + 1;
        return v.apply(target, args);
      };
    },
  }) as EtcdPort;
  return {
    port,
    counts,
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const k of Object.keys(counts)) delete counts[k];
    },
  };
}
const show = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

const now = T0 + 3_600_000;
const config = testConfig({ expectedMasters: 5 });
const steady = healthy(5);
const big = healthy(5);
for (let k = 0; k < 1000; k++) {
  big.group.instances.push(inst(1000 + k, { lifecycleState: 'Terminated', apiReady: false }));
  big.targets.push({ instanceId: `i-${1000 + k}`, health: 'draining' });
}

console.log('decide (pure)');
timeIt('5 masters, steady', iterations, () => decide(steady, config, now));
timeIt('5 masters + 1,000 worker-sized instance and target rows', Math.ceil(iterations / 20), () =>
  decide(big, config, now),
);

console.log('\netcd calls per steady-state pass (in-memory ports)');
for (const m of [3, 5]) {
  for (const reportErrors of [true, false]) {
    const w = fakeWorld(m);
    w.ports.etcd.reportErrors = reportErrors;
    const c = counting(w.ports.etcd);
    const ports = { ...w.ports, etcd: c.port };
    await reconcilePass(ports, testConfig({ expectedMasters: m }));
    c.reset();
    const p = await reconcilePass(ports, testConfig({ expectedMasters: m }));
    const note = reportErrors ? 'status reports errors (alarms)' : 'status without errors field';
    console.log(
      `M=${m} ${note.padEnd(32)} ${String(c.total()).padStart(2)} calls (goal <= ${m + 1})  [${show(c.counts)}]  actions ${p.decision.actions.length}`,
    );
  }
}
{
  const w = fakeWorld(5);
  const t = performance.now();
  const n = 2000;
  for (let k = 0; k < n; k++) await observe(w.ports, config);
  console.log(`observe, in-memory ports, M=5: ${(((performance.now() - t) * 1000) / n).toFixed(1)} µs/pass`);
}

if (real) {
  console.log('\netcd calls per steady-state observation, real client, real 5-member TLS cluster');
  const cluster = await startEtcdCluster({ size: 5 });
  try {
    const c = counting(cluster.client);
    const eps = cluster.endpoints();
    const samples: number[] = [];
    let calls = 0;
    for (let k = 0; k < 50; k++) {
      c.reset();
      const t = performance.now();
      const etcd = await observeEtcd(c.port, eps);
      samples.push(performance.now() - t);
      calls = c.total();
      if (!etcd.reachable || etcd.members.length !== 5) throw new Error('cluster not observed');
    }
    samples.sort((a, b) => a - b);
    console.log(
      `M=5 real client: ${calls} calls per pass [${show(c.counts)}]; observeEtcd p50 ${samples[25]!.toFixed(1)} ms, max ${samples.at(-1)!.toFixed(1)} ms`,
    );
  } finally {
    await cluster.stop();
  }
}
