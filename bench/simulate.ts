/**
 * Seeded simulation throughput with the etcd model, and what the runs show about healing.
 *   npx tsx bench/simulate.ts [seconds-per-scenario (default 20)]
 * Prints seeds per minute in this one process (goal: >= 1,000 on a 2-core machine; issue 14's bar
 * for `tripod simulate --jobs 2` is >= 2,000 at 3, 5 and 7 masters), the cost of one seed, and,
 * per fault mix, how long (simulated) the cluster takes to converge after the last fault.
 */
import os from 'node:os';
import { FAULT_KINDS, type FaultKind } from '../src/sim/faults.js';
import { type SimulationResult, simulate } from '../src/sim/run.js';

const budgetMs = Number(process.argv[2] ?? 20) * 1000;

interface Figures {
  seeds: number;
  wallMs: number;
  /** CPU time of this process (the machine may be shared: seeds per CPU-minute is the steadier figure). */
  cpuMs: number;
  failed: number;
  results: SimulationResult[];
}

async function run(
  zones: number,
  masters: number | undefined,
  faults: readonly FaultKind[],
  from: number,
): Promise<Figures> {
  const results: SimulationResult[] = [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let failed = 0;
  let seed = from;
  while (performance.now() - t0 < budgetMs) {
    const r = await simulate({ seed: seed++, zones, ...(masters ? { masters } : {}), faults });
    if (!r.ok) failed++;
    results.push(r);
  }
  const cpu = process.cpuUsage(c0);
  return {
    seeds: results.length,
    wallMs: performance.now() - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    failed,
    results,
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const secs = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

const scenarios: Array<{ name: string; zones: number; masters?: number; faults: readonly FaultKind[] }> = [
  { name: 'all faults, 3 zones', zones: 3, faults: FAULT_KINDS },
  { name: 'all faults, 5 zones', zones: 5, faults: FAULT_KINDS },
  { name: 'all faults, 3 zones, 7 masters', zones: 3, masters: 7, faults: FAULT_KINDS },
  { name: 'kill only, 3 zones', zones: 3, faults: ['kill'] },
  { name: 'zone outage + recovery, 3 zones', zones: 3, faults: ['zone-outage', 'zone-recovery'] },
];

console.log(
  `tripod simulate benchmark (etcd model), ${budgetMs / 1000} s per scenario, node ${process.version}, ` +
    `${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)} at start\n`,
);
console.log(
  '| scenario | seeds | failed | seeds/min | seeds/CPU-min | ms/seed | events/seed | passes/seed | calls/pass | simulated h/seed | converge after last fault: median / p95 / worst (simulated) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
let seed = 1;
for (const s of scenarios) {
  const f = await run(s.zones, s.masters, s.faults, seed);
  seed += 100_000;
  const conv = f.results.map((r) => r.convergedAfterMs).filter((x): x is number => x !== undefined);
  const passes = f.results.map((r) => r.stats.invocations);
  const calls = f.results.map((r) => r.stats.calls / Math.max(1, r.stats.invocations));
  console.log(
    `| ${s.name} | ${f.seeds} | ${f.failed} | ${Math.round((f.seeds / f.wallMs) * 60_000)} | ${Math.round((f.seeds / f.cpuMs) * 60_000)} | ${(f.wallMs / f.seeds).toFixed(1)} | ` +
      `${Math.round(mean(f.results.map((r) => r.stats.events)))} | ${Math.round(mean(passes))} | ${mean(calls).toFixed(1)} | ` +
      `${(mean(f.results.map((r) => r.simulatedMs)) / 3_600_000).toFixed(2)} | ${secs(pct(conv, 50))} / ${secs(pct(conv, 95))} / ${secs(pct(conv, 100))} |`,
  );
}
