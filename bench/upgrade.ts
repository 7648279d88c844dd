/**
 * Simulated wall time of a rolling upgrade of 3 and 5 masters (no faults), over several seeds:
 * total, per master split into boot (launch -> etcd started -> promoted -> API ready) and the time
 * tripod and Auto Scaling add once the new node reports ready (ready -> old master removed ->
 * next launch, or -> refresh done for the last one). Goal: under 10 s per master after ready.
 *
 *   npx tsx bench/upgrade.ts [seeds]
 */
import { simulateUpgrade } from '../src/sim/upgrade.js';

const seeds = Number(process.argv[2] ?? 10);

const parse = (timeline: string) =>
  timeline.split('\n').map((l) => {
    const m = /^\+(\d+):(\d+):(\d+)\.(\d+) (\S+)\s+(.*)$/.exec(l);
    if (!m) return { at: Number.NaN, source: '', text: l };
    const at = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
    return { at, source: m[5] as string, text: m[6] as string };
  });

interface PerMaster {
  boot: number;
  join: number;
  controlPlane: number;
  afterReady: number;
  /** Of afterReady: the reconciler's own work (ready -> launch hook completed, terminate -> hook completed). */
  tripod: number;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { mean, p50: s[Math.floor(s.length / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
};
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

console.log(`Rolling upgrade in the simulator, ${seeds} seeds per size, no faults\n`);
console.log(
  '| masters | zones | upgrade (mean / max) | per master: launch -> etcd started | -> promoted (reconciler) | -> API ready | after ready (mean / max) | of which the reconciler (mean / max) |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [masters, zones] of [
  [3, 3],
  [5, 3],
  [5, 5],
] as const) {
  const totals: number[] = [];
  const per: PerMaster[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const r = await simulateUpgrade({ seed, masters, zones });
    if (!r.ok) {
      console.error(`seed ${seed} (${masters} masters) failed: ${r.problems.join('; ')}`);
      continue;
    }
    totals.push(r.upgradeMs);
    const ev = parse(r.timeline);
    const launches = ev.filter(
      (e) => e.source === 'asg' && /^launch i-\S+ .*: instance refresh/.test(e.text),
    );
    const done = ev.find((e) => e.source === 'asg' && / Successful: /.test(e.text));
    launches.forEach((l, n) => {
      const id = /^launch (i-\S+)/.exec(l.text)?.[1] as string;
      const find = (source: string, re: RegExp) =>
        ev.find((e) => e.source === source && e.at >= l.at && re.test(e.text));
      const started = find('node', new RegExp(`^${id} started etcd`));
      const ready = find('node', new RegExp(`^${id} API server ready`));
      const promoted =
        started &&
        ev.find(
          (e) => e.source === 'reconciler' && e.at >= started.at && /^etcd promote .*: ok/.test(e.text),
        );
      const next = launches[n + 1]?.at ?? done?.at;
      const continued = ready && find('asg', new RegExp(`^lifecycle launching ${id} completed CONTINUE`));
      const term =
        continued &&
        ev.find(
          (e) =>
            e.source === 'asg' && e.at >= continued.at && /^terminate i-\S+ .*instance refresh/.test(e.text),
        );
      const oldId = term && /^terminate (i-\S+)/.exec(term.text)?.[1];
      const released =
        term &&
        ev.find(
          (e) =>
            e.source === 'asg' &&
            e.at >= term.at &&
            e.text.startsWith(`lifecycle terminating ${oldId} completed`),
        );
      if (!started || !ready || !promoted || !continued || !term || !released || next === undefined) return;
      per.push({
        boot: started.at - l.at,
        join: promoted.at - started.at,
        controlPlane: ready.at - promoted.at,
        afterReady: next - ready.at,
        tripod: continued.at - ready.at + (released.at - term.at),
      });
    });
  }
  const t = stats(totals);
  const a = stats(per.map((p) => p.afterReady));
  const own = stats(per.map((p) => p.tripod));
  console.log(
    `| ${masters} | ${zones} | ${(t.mean / 60_000).toFixed(1)} / ${(t.max / 60_000).toFixed(1)} min | ${sec(stats(per.map((p) => p.boot)).mean)} | ${sec(stats(per.map((p) => p.join)).mean)} | ${sec(stats(per.map((p) => p.controlPlane)).mean)} | ${sec(a.mean)} / ${sec(a.max)} | ${sec(own.mean)} / ${sec(own.max)} ${own.max < 10_000 ? '(< 10 s goal met)' : '(over the 10 s goal)'} |`,
  );
}
console.log(
  '\nafter ready = node ready -> launch hook completed -> InService -> refresh terminates the old master -> leader moved, member removed, terminate hook completed -> Terminated -> next launch.',
);
console.log(
  "tripod's reconciler = node ready -> launch hook completed + terminate started -> leader moved, member removed, hook completed; the rest is the simulated Auto Scaling (state changes 1-2 s, the refresh's 5 s step loop).",
);
console.log('The upgrade total also includes the run noticing the end (one poll, 10 s here).');
