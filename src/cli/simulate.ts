/** `tripod simulate`: seeded fault testing of the reconciler in the deterministic cloud simulator. */
import { fork } from 'node:child_process';
import os from 'node:os';
import { autoMasterCount } from '../cluster-spec/topology.js';
import { ETCD_VERSION } from '../cluster-spec/versions.js';
import { interruptCleanup, killAllEtcd } from '../sim/etcd-real.js';
import { FAULT_KINDS, type FaultKind, parseFaults } from '../sim/faults.js';
import type { Violation } from '../sim/invariants.js';
import { type SimulationOptions, simulate } from '../sim/run.js';
import { simulateReal } from '../sim/run-real.js';
import { simSpec, type WarmPoolOverride } from '../sim/sim-spec.js';
import { type CommandDef, choice, type Io, UsageError, UserError, type Values } from './command.js';

const int = (value: unknown, flag: string, min: number, max: number): number | undefined => {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(s)})`);
  }
  return Number(s);
};

/**
 * `--warm-pool SIZE[:STATE]`: the spec's masters.warmPool for the run (its schema refuses what it
 * refuses: a size over 10, Hibernated); `override` undefined: the spec's default. `label`: the pool
 * the run gets, for the header line.
 */
function warmPoolOption(value: unknown): { override: WarmPoolOverride | undefined; label: string } {
  let override: WarmPoolOverride | undefined;
  if (value !== undefined) {
    const m = /^(\d+)(?::([A-Za-z]+))?$/.exec(String(value));
    if (!m)
      throw new UsageError(
        `--warm-pool must be SIZE or SIZE:STATE, e.g. 1:Stopped, 2:Running or 0 for none (got ${JSON.stringify(String(value))})`,
      );
    override = {
      size: Number(m[1]),
      ...(m[2] ? { state: m[2] as NonNullable<WarmPoolOverride['state']> } : {}),
    };
  }
  try {
    const { size, state } = simSpec({
      cluster: 'sim',
      region: 'eu-west-1',
      zones: ['eu-west-1a'],
      masters: 1,
      ...(override ? { warmPool: override } : {}),
    }).masters.warmPool;
    return { override, label: size === 0 ? 'no warm pool' : `warm pool ${size} ${state}` };
  } catch (e) {
    const issues = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
    const why =
      issues?.map((i) => `${String(i.path.at(-1))} ${i.message}`).join('; ') ?? (e as Error).message;
    throw new UsageError(`--warm-pool ${String(value)}: masters.warmPool.${why}`);
  }
}

/** What one seed's run reports back (from this process or a worker). */
interface SeedOutcome {
  seed: number;
  ok: boolean;
  violations: Violation[];
  convergedAfterMs: number | undefined;
  /** Only for failing seeds. */
  timeline?: string;
}

async function runOne(base: Omit<SimulationOptions, 'seed'>, seed: number): Promise<SeedOutcome> {
  const r = await simulate({ ...base, seed });
  return {
    seed,
    ok: r.ok,
    violations: r.violations,
    convergedAfterMs: r.convergedAfterMs,
    ...(r.ok ? {} : { timeline: r.timeline }),
  };
}

/**
 * Seeds from..from+count-1 over `jobs` processes (this CLI, forked with `--shard i/n`): each seed is
 * deterministic on its own, so sharding changes nothing but the wall time.
 */
async function runSeeds(
  base: Omit<SimulationOptions, 'seed'>,
  argv: string[],
  from: number,
  count: number,
  jobs: number,
  onOutcome: (o: SeedOutcome) => void,
): Promise<void> {
  if (jobs <= 1) {
    for (let s = from; s < from + count; s++) onOutcome(await runOne(base, s));
    return;
  }
  const entry = process.argv[1];
  if (!entry || !/(?:tripod(?:\.js)?|index\.[jt]s)$/.test(entry)) {
    throw new UserError('cannot find the tripod entry point to start workers: use --jobs 1');
  }
  await Promise.all(
    Array.from({ length: jobs }, (_, shard) => {
      return new Promise<void>((resolve, reject) => {
        const child = fork(entry, ['simulate', ...argv, '--shard', `${shard}/${jobs}`], {
          execArgv: process.execArgv,
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        });
        child.on('message', (m) => onOutcome(m as SeedOutcome));
        child.on('error', reject);
        child.on('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`simulation worker ${shard} exited with code ${code}`)),
        );
      });
    }),
  );
}

function describeFailure(r: SeedOutcome): string {
  return [
    `seed ${r.seed} FAILED:`,
    ...r.violations.map((v) => `  ${v.rule}: ${v.detail}`),
    '',
    'Timeline:',
    r.timeline ?? '(no timeline)',
    '',
    `Replay: tripod simulate --seed ${r.seed} --timeline`,
  ].join('\n');
}

export const simulateCommand: CommandDef = {
  name: 'simulate',
  summary: 'run the reconciler against seeded fault schedules in the cloud simulator',
  usage: `[--seeds N] [--from S] [--zones Z] [--masters M] [--warm-pool SIZE[:STATE]] [--faults LIST] [--etcd model|real]
       tripod simulate --seed S [--timeline] [--zones Z] [--masters M] [--warm-pool SIZE[:STATE]] [--faults LIST]`,
  description: `Runs the reconciler (the same code as the Lambda, with its 120 s timeout and a backup bucket) in a
deterministic simulated cloud: Auto Scaling groups with lifecycle hooks (a hook not heartbeated
takes its default result; the instance dies with its root volume, etcd's data) and AZ rebalancing,
the master group's warm pool as the provisioner declares it for the spec (default one Stopped
instance; its instances health-checked and replaced when lost),
EventBridge that loses and duplicates events, throttled APIs, the node watchdog of the shipped
scripts, and a model of etcd membership. Each seed draws a random fault schedule; destructive
faults overlap only within the fault tolerance (M minus quorum). After every step the simulator
checks that no action drops healthy voters below quorum, that at most one membership change is in
flight, that no healthy voter is removed unless its instance is terminating, that no master
terminates while its member votes, that no hook of such a master reaches its default result, that
quorum is lost only when the faults alone exceed the tolerance, that the watchdog replaces no
master, that no learner of a gone or never-started member stays while the reconciler can act on
etcd, and that the cluster converges (its warm pool full again) once the faults stop. Subnet
addresses are given again after termination. A request judged on a world a fault changed after
its pass observed is judged again when etcd carries it out. The same seed replays exactly.`,
  options: [
    { flags: '--seeds <n>', description: 'how many seeds to run (default 100)' },
    { flags: '--from <s>', description: 'first seed (default 1)' },
    { flags: '--seed <s>', description: 'run one seed (add --timeline to print what happened)' },
    { flags: '--timeline', description: "print the seed's timeline" },
    { flags: '--zones <z>', description: 'availability zones, 1-6 (default 3)' },
    {
      flags: '--masters <m>',
      description: 'odd number of masters (default: one per zone, plus one when even, at least 3)',
    },
    {
      flags: '--warm-pool <size[:state]>',
      description:
        "the master group's warm pool, as masters.warmPool: SIZE prepared instances (0: none), STATE Stopped or Running (default: the spec's, 1:Stopped)",
    },
    {
      flags: '--faults <list>',
      description: `comma-separated, from: ${FAULT_KINDS.join(',')} (default: all; "none" for no faults). terminate-healthy: AZ rebalancing, instance refresh, an operator or a health check terminates an InService master; snapshot-fail/-slow: S3/KMS denied, or a database too large for the pass; peer-cut: a member cut off from its peers (2380), still reachable on 2379; etcd-unreachable: the reconciler cut off from etcd; crash-loop: etcd crash-loops on every master for minutes; boot-failure: new masters never join (with or without their boot-failed record); warm-pool-loss: EC2 loses a warm pool instance (preparing, stopping, Stopped or Running)`,
    },
    {
      flags: '--etcd <backend>',
      description: `model: the fast etcd model, thousands of seeds a minute. real: every master runs a REAL etcd process (etcd ${ETCD_VERSION}, mTLS, a 127.x address each), in real time at 30x: about a minute per seed, at most 2 faults per seed, seeds one after another (default --seeds 3); a partition freezes the zone's processes (SIGSTOP): loopback has no partitions`,
      default: 'model',
      choices: ['model', 'real'],
    },
    { flags: '--jobs <n>', description: 'worker processes (default: 2, or 1 on a single-CPU machine)' },
    /** Internal: this process is worker i of n (started by --jobs). */
    { flags: '--shard <i/n>', description: 'internal: worker i of n (started by --jobs)', hidden: true },
  ],
  footer: 'Exit codes: 0 every seed passed, 1 a seed violated an invariant, 64 usage error.',
  async run(values, io) {
    const etcd = choice(values.etcd, ['model', 'real'] as const, 'etcd');
    const zones = int(values.zones, 'zones', 1, 6) ?? 3;
    const masters = int(values.masters, 'masters', 1, 9) ?? autoMasterCount(zones);
    if (masters % 2 === 0)
      throw new UsageError(
        `--masters must be odd (got ${masters}): ${masters} masters tolerate no more failures than ${masters - 1}`,
      );
    let faults: FaultKind[];
    try {
      faults =
        values.faults === undefined
          ? [...FAULT_KINDS]
          : values.faults === 'none'
            ? []
            : parseFaults(String(values.faults));
    } catch (e) {
      throw new UsageError(`--faults: ${(e as Error).message}`);
    }
    const { override: warmPool, label: poolLabel } = warmPoolOption(values['warm-pool']);
    if (etcd === 'real') {
      if (warmPool) throw new UsageError('--warm-pool: --etcd real runs no warm pool yet');
      return runReal(values, { zones, masters, faults }, io);
    }
    const base = { zones, masters, faults, ...(warmPool ? { warmPool } : {}) };
    const one = int(values.seed, 'seed', 0, 2 ** 32 - 1);
    if (one !== undefined) {
      if (values.seeds !== undefined || values.from !== undefined)
        throw new UsageError('--seed runs one seed: drop --seeds/--from');
      const r = await simulate({ ...base, seed: one });
      if (values.timeline) io.out(r.timeline);
      if (!r.ok) {
        if (!values.timeline) io.err(describeFailure(r));
        else io.err(`seed ${one} FAILED: ${r.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`);
        return 1;
      }
      io.out(
        `seed ${one} passed: converged ${((r.convergedAfterMs ?? 0) / 1000).toFixed(1)} s (simulated) after the faults stopped`,
      );
      return 0;
    }
    if (values.timeline) throw new UsageError('--timeline needs --seed S');
    const count = int(values.seeds, 'seeds', 1, 10_000_000) ?? 100;
    const from = int(values.from, 'from', 0, 2 ** 32 - 1) ?? 1;
    if (values.shard !== undefined) {
      const m = /^(\d+)\/(\d+)$/.exec(String(values.shard));
      if (!m || !process.send) throw new UsageError('--shard is internal (used by --jobs)');
      const [i, n] = [Number(m[1]), Number(m[2])];
      for (let s = from + i; s < from + count; s += n) process.send(await runOne(base, s));
      return 0;
    }
    // Workers re-run this CLI: only when this process is the tripod CLI (not a test calling main()).
    const isCli = /(?:bin[\\/]tripod(?:\.js)?|cli[\\/]index\.[jt]s)$/.test(process.argv[1] ?? '');
    const defaultJobs = isCli ? Math.min(2, os.availableParallelism()) : 1;
    const jobs = Math.min(int(values.jobs, 'jobs', 1, 64) ?? defaultJobs, count);
    const argv = [
      '--seeds',
      String(count),
      '--from',
      String(from),
      '--zones',
      String(zones),
      '--masters',
      String(masters),
      '--faults',
      faults.join(',') || 'none',
      ...(warmPool ? ['--warm-pool', String(values['warm-pool'])] : []),
    ];
    io.err(
      `simulating seeds ${from}..${from + count - 1}: ${zones} zones, ${masters} masters, ${poolLabel}, faults ${faults.join(',') || 'none'}, etcd ${etcd}, ${jobs} job${jobs === 1 ? '' : 's'}`,
    );
    const tty = process.stderr.isTTY === true;
    const t0 = performance.now();
    let lastLine = t0;
    let done = 0;
    const failed: SeedOutcome[] = [];
    const converge: number[] = [];
    await runSeeds(base, argv, from, count, jobs, (o) => {
      done++;
      if (o.convergedAfterMs !== undefined) converge.push(o.convergedAfterMs);
      if (!o.ok) {
        failed.push(o);
        io.err(
          `${tty ? '\n' : ''}seed ${o.seed} FAILED: ${o.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`,
        );
      }
      const now = performance.now();
      if (done === count || now - lastLine > (tty ? 200 : 5_000)) {
        lastLine = now;
        const line = `  ${done}/${count} seeds, ${failed.length} failed`;
        if (tty) process.stderr.write(`\r${line}`);
        else io.err(line);
      }
    });
    if (tty) process.stderr.write('\n');
    const elapsedMs = performance.now() - t0;
    converge.sort((a, b) => a - b);
    const median = converge[Math.floor(converge.length / 2)] ?? 0;
    const worst = converge[converge.length - 1] ?? 0;
    if (failed.length > 0) {
      const byRule = new Map<string, number>();
      for (const f of failed)
        for (const rule of new Set(f.violations.map((v) => v.rule)))
          byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
      io.err(
        `violations (seeds per rule): ${[...byRule]
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
          .map(([rule, n]) => `${rule} ${n}`)
          .join(', ')}`,
      );
    }
    io.out(
      `${count} seeds, ${failed.length} failed, ${(elapsedMs / 1000).toFixed(1)} s (${Math.round((count / elapsedMs) * 60_000)} seeds/min, ${jobs} job${jobs === 1 ? '' : 's'}); ` +
        `convergence after the faults stop: median ${(median / 1000).toFixed(0)} s, worst ${(worst / 1000).toFixed(0)} s (simulated)`,
    );
    failed.sort((a, b) => a.seed - b.seed);
    const first = failed[0];
    if (first) {
      io.err(describeFailure(first));
      io.err(`failing seeds: ${failed.map((r) => r.seed).join(' ')}`);
      return 1;
    }
    return 0;
  },
};

/** `--etcd real`: seeds one after another with real etcd processes (slow: real time). */
async function runReal(
  values: Values,
  base: { zones: number; masters: number; faults: FaultKind[] },
  io: Io,
): Promise<number> {
  const one = int(values.seed, 'seed', 0, 2 ** 32 - 1);
  const count = one !== undefined ? 1 : (int(values.seeds, 'seeds', 1, 1000) ?? 3);
  const from = one ?? int(values.from, 'from', 0, 2 ** 32 - 1) ?? 1;
  if (values.timeline && one === undefined) throw new UsageError('--timeline needs --seed S');
  io.err(
    `simulating seeds ${from}..${from + count - 1} with REAL etcd (about a minute each): ${base.zones} zones, ${base.masters} masters, faults ${base.faults.join(',') || 'none'}`,
  );
  const onSignal = () => {
    const n = interruptCleanup();
    io.err(`\ninterrupted: ${n} etcd process${n === 1 ? '' : 'es'} stopped, working directory removed`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  let failed = 0;
  try {
    for (let seed = from; seed < from + count; seed++) {
      const r = await simulateReal({ ...base, seed });
      if (values.timeline) io.out(r.timeline);
      const line = r.ok
        ? `seed ${seed} passed: ${r.stats.faults} faults, converged ${((r.convergedAfterMs ?? 0) / 1000).toFixed(1)} s (simulated) after the faults stopped; ${(r.simulatedMs / 60_000).toFixed(1)} min simulated in ${(r.realMs / 1000).toFixed(1)} s real, ${r.stats.etcdProcesses} etcd processes started`
        : `seed ${seed} FAILED: ${r.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`;
      if (r.ok) io.out(line);
      else {
        failed++;
        io.err(line);
        if (!values.timeline)
          io.err(`Timeline:\n${r.timeline}\n\nReplay: tripod simulate --etcd real --seed ${seed} --timeline`);
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    killAllEtcd();
  }
  io.out(`${count} seed${count === 1 ? '' : 's'} with real etcd, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}
