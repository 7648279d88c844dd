/** `tripod simulate`: seeded fault testing of the reconciler in the deterministic cloud simulator. */
import { FAULT_KINDS, type FaultKind, parseFaults } from '../sim/faults.js';
import { type SimulationResult, simulate, simulateSeeds } from '../sim/run.js';
import { autoMasterCount } from '../spec/topology.js';
import { type Command, choice, UsageError, UserError } from './command.js';

const int = (value: unknown, flag: string, min: number, max: number): number | undefined => {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max} (got ${JSON.stringify(s)})`);
  }
  return Number(s);
};

function describeFailure(r: SimulationResult): string {
  return [
    `seed ${r.seed} FAILED:`,
    ...r.violations.map((v) => `  ${v.rule}: ${v.detail}`),
    '',
    'Timeline:',
    r.timeline,
    '',
    `Replay: tripod simulate --seed ${r.seed} --timeline`,
  ].join('\n');
}

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run the reconciler against seeded fault schedules in the cloud simulator',
  help: `Usage: tripod simulate [--seeds N] [--from S] [--zones Z] [--masters M] [--faults LIST] [--etcd model|real]
       tripod simulate --seed S [--timeline] [--zones Z] [--masters M] [--faults LIST]

Runs the reconciler (the same code as the Lambda) in a deterministic simulated cloud: Auto Scaling
groups with lifecycle hooks and AZ rebalancing, EventBridge that loses and duplicates events,
throttled APIs, and a model of etcd membership. Each seed draws a random fault schedule; after
every step the simulator checks that no action drops healthy voters below quorum, that at most
one membership change is in flight, that no healthy voter is removed unless its instance is
terminating, and that the cluster converges once the faults stop. The same seed replays exactly.

Options:
      --seeds N        how many seeds to run (default 100)
      --from S         first seed (default 1)
      --seed S         run one seed (add --timeline to print what happened)
      --timeline       print the seed's timeline
      --zones Z        availability zones, 1-6 (default 3)
      --masters M      odd number of masters (default: one per zone, plus one when even, at least 3)
      --faults LIST    comma-separated, from: ${FAULT_KINDS.join(',')}
                       (default: all; "none" for no faults)
      --etcd BACKEND   model (default): the fast etcd model. real: not available yet
  -h, --help           this help

Exit codes: 0 every seed passed, 1 a seed violated an invariant, 2 usage error.`,
  options: {
    seeds: { type: 'string' },
    from: { type: 'string' },
    seed: { type: 'string' },
    timeline: { type: 'boolean' },
    zones: { type: 'string' },
    masters: { type: 'string' },
    faults: { type: 'string' },
    etcd: { type: 'string', default: 'model' },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const etcd = choice(values.etcd, ['model', 'real'] as const, 'etcd');
    if (etcd === 'real') {
      throw new UserError('--etcd real is not available yet: use --etcd model (the default)');
    }
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
    const base = { zones, masters, faults };
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
    io.err(
      `simulating seeds ${from}..${from + count - 1}: ${zones} zones, ${masters} masters, faults ${faults.join(',') || 'none'}, etcd ${etcd}`,
    );
    const tty = process.stderr.isTTY === true;
    let lastLine = performance.now();
    const summary = await simulateSeeds(base, from, count, (done, failed, r) => {
      if (!r.ok)
        io.err(`\nseed ${r.seed} FAILED: ${r.violations.map((v) => `${v.rule}: ${v.detail}`).join('; ')}`);
      const now = performance.now();
      if (done === count || now - lastLine > (tty ? 200 : 5_000)) {
        lastLine = now;
        const line = `  ${done}/${count} seeds, ${failed} failed`;
        if (tty) process.stderr.write(`\r${line}`);
        else io.err(line);
      }
    });
    if (tty) process.stderr.write('\n');
    const perMin = (summary.seeds / summary.elapsedMs) * 60_000;
    io.out(
      `${summary.seeds} seeds, ${summary.failed.length} failed, ${(summary.elapsedMs / 1000).toFixed(1)} s (${Math.round(perMin)} seeds/min); ` +
        `convergence after the faults stop: median ${(summary.convergeMedianMs / 1000).toFixed(0)} s, worst ${(summary.convergeMaxMs / 1000).toFixed(0)} s (simulated)`,
    );
    const first = summary.failed[0];
    if (first) {
      io.err(describeFailure(first));
      io.err(`failing seeds: ${summary.failed.map((r) => r.seed).join(' ')}`);
      return 1;
    }
    return 0;
  },
};
