/**
 * With REAL etcd (the sandbox): how long from a master's loss to its replacement promoted and
 * registered, broken down by phase, and how much of it is the reconciler's own part.
 *   npx tsx bench/sandbox.ts [losses (default 3)] [seed (default 1)]
 *
 * Simulated times are what they would be on AWS (the node's boot phases take the ranges of
 * src/sim/node.ts BOOT_PHASES, whose sources bench/README.md cites); real times are this machine's.
 * Per loss, in the order they happen:
 *   detect      fault -> Auto Scaling terminates the instance (AWS's part)
 *   replace     terminate -> the group launches the replacement (AWS's part)
 *   start       RunInstances -> running (EC2)
 *   os, pkgs    OS boot to the user data; install_packages
 *   join        the node's wait for its join parameters (its SSM poll; the reconciler published them at launch)
 *   sync        etcd started -> the learner is in sync and its node says "Member Started"
 *   api         promoted -> API ready: what remains of kubeadm (images, init/join, which ran beside the
 *               learner's catch-up) and /readyz
 * The columns from detect to api, with promote and register, add up to the total (remove runs beside
 * replace and start).
 *   reconciler  its reactions, each from the signal to the step done: remove (terminate event ->
 *               remove-member ok), promote ("Member Started" -> promote ok), register (API ready ->
 *               register-target ok). The sandbox's own polling of real etcd (200 ms real, ~4 s
 *               simulated) comes before the node's signal and is not counted in it.
 * Goal: the reconciler's share under 5 s.
 *
 * Each run three times: without a warm pool (every replacement is a fresh launch), and with one
 * (masters.warmPool, one instance per zone, so the lost master's zone always has one; each scenario
 * ends once the pool is refilled) kept Stopped, then Running: the replacement is started from Stopped
 * (EC2_START_FROM_STOPPED_MS) and boots its OS again, or (Running) joins as soon as its instance
 * metadata says InService; either way it skips packages and images (`pkgs` 0). `from` says which:
 * cold or warm. Goal: the warm median under 60 s.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseSpec } from '../src/cluster-spec/load.js';
import { runSandbox, type SandboxEvent } from '../src/sim/sandbox.js';

const losses = Number(process.argv[2] ?? 3);
const seed = Number(process.argv[3] ?? 1);
const file = resolve(import.meta.dirname, '../examples/three-zones.yaml');
const loaded = parseSpec(readFileSync(file, 'utf8'), file);
if (!loaded.ok) throw new Error('examples/three-zones.yaml does not load');

const base = loaded.spec;
const zones = base.network.zones.length;
let allOk = true;
for (const [label, size, state] of [
  ['without a warm pool', 0, 'Stopped'],
  [`with a warm pool (${zones} Stopped, one per zone)`, zones, 'Stopped'],
  [`with a warm pool (${zones} Running, one per zone)`, zones, 'Running'],
] as const) {
  const spec = {
    ...base,
    masters: { ...base.masters, warmPool: { ...base.masters.warmPool, size, state } },
  };
  allOk = (await bench(label, spec)) && allOk;
}
process.exit(allOk ? 0 : 1);

async function bench(label: string, spec: typeof base): Promise<boolean> {
  const t0 = performance.now();
  const r = await runSandbox({
    spec,
    seed,
    scenarios: Array.from({ length: losses }, () => 'lose-master' as const),
    out: () => {},
  });
  const wall = performance.now() - t0;

  const find = (tl: SandboxEvent[], from: number, pred: (e: SandboxEvent) => boolean): SandboxEvent => {
    const e = tl.slice(from).find(pred);
    if (!e) throw new Error('timeline entry not found');
    return e;
  };
  const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

  console.log('');
  console.log(
    `sandbox ${label}, ${losses} master losses (seed ${seed}), real etcd ${r.ok ? 'healed every time' : 'DID NOT HEAL'}; whole run ${s(wall)} real, cluster formed in ${s(r.boot.simulatedMs)} simulated / ${s(r.boot.realMs)} real`,
  );
  const HEAD = [
    'loss',
    'from',
    'total',
    'detect',
    'replace',
    'start',
    'os',
    'pkgs',
    'join',
    'sync',
    'api',
    'remove',
    'promote',
    'register',
    'share',
    '| real',
    'passes',
  ];
  console.log(HEAD.map((h) => h.padStart(8)).join(''));
  const tl = r.timeline;
  const shares: number[] = [];
  const totals: number[] = [];
  let from = 0;
  for (const sc of r.scenarios) {
    const start = tl.findIndex((e, i) => i >= from && e.text.startsWith('== scenario lose-master'));
    const fault = tl[start + 1] as SandboxEvent;
    const victim = /(i-[0-9a-f]{17})/.exec(fault.text)?.[1] as string;
    const at = (pred: (e: SandboxEvent) => boolean) => find(tl, start, pred).at;
    const term = at((e) => e.source === 'asg' && e.text.startsWith(`terminate ${victim}`));
    const removed = at((e) => e.source === 'decided' && /^remove-member .* -> ok$/.test(e.text));
    // A fresh launch, or a warm start (a pool instance leaves the pool).
    const launchE = find(
      tl,
      start,
      (e) => e.source === 'asg' && (e.text.startsWith('launch ') || e.text.startsWith('warm start: ')),
    );
    const warm = launchE.text.startsWith('warm start: ');
    const id = /(i-[0-9a-f]{17})/.exec(launchE.text)?.[1] as string;
    const node = (text: string) => at((e) => e.source === 'node' && e.text.startsWith(`${id} ${text}`));
    // A Running pool's instance neither starts nor boots again: those phases are 0.
    const phase = (name: string) =>
      Number(
        / ([0-9.]+) s$/.exec(
          tl.slice(start).find((e) => e.source === 'node' && e.text.startsWith(`${id} phase ${name} `))
            ?.text ?? ' 0 s',
        )?.[1],
      ) * 1000;
    const booted = node(warm ? 'left the warm pool' : 'phase packages');
    const started = node('started etcd');
    const nudged = node('member started: event 1 sent');
    const promoted = at(
      (e) =>
        e.source === 'decided' &&
        e.text.startsWith('promote-member') &&
        e.text.includes(`(${id})`) &&
        e.text.endsWith('-> ok'),
    );
    const ready = node('API server ready');
    const registered = at(
      (e) => e.source === 'decided' && e.text.startsWith(`register-target ${id}`) && e.text.endsWith('-> ok'),
    );
    const remove = removed - term;
    // A pass that some other trigger started can promote a learner already in sync before its node's
    // nudge goes out: the reconciler then kept the promotion waiting for nothing (0, not negative).
    const promote = Math.max(0, promoted - nudged);
    const register = registered - ready;
    const share = remove + promote + register;
    const total = registered - fault.at;
    shares.push(share);
    totals.push(total);
    const cells = [
      total,
      term - fault.at,
      launchE.at - term,
      phase('instanceStart'),
      phase('osBoot'),
      warm ? 0 : phase('packages'),
      started - booted,
      nudged - started,
      ready - promoted,
      remove,
      promote,
      register,
      share,
    ].map((ms) => s(ms).padStart(8));
    const registeredReal = find(
      tl,
      start,
      (e) => e.source === 'decided' && e.text.startsWith(`register-target ${id}`),
    ).realMs;
    console.log(
      [
        String(shares.length).padStart(8),
        (warm ? 'warm' : 'cold').padStart(8),
        ...cells,
        s(registeredReal - fault.realMs).padStart(8),
        `${sc.passes} (${sc.reconcilerMs.toFixed(0)} ms)`.padStart(14),
      ].join(''),
    );
    from = start + 1;
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  console.log(
    `time to heal (simulated, fault -> replacement registered): median ${s(med(totals))}, worst ${s(Math.max(...totals))}`,
  );
  console.log(
    `reconciler's share (signal -> step done, simulated): median ${s(med(shares))}, worst ${s(Math.max(...shares))} (goal < 5 s; etcd-manager waits 60 s + a 10 s loop, Cluster API requeues every 15-30 s)`,
  );
  return r.ok;
}
