/**
 * `tripod upgrade`: rolls the masters (one at a time, a new one joins before an old one leaves),
 * then the workers, onto the launch templates apply wrote; resumes an upgrade in progress; `--abort`
 * rolls it back. `--simulate` runs the same upgrade in the deterministic simulator instead of AWS.
 */
import { createUpgradePort } from '../adapters/aws/instance-refresh.js';
import { simulateUpgrade, simulateUpgradeSeeds, UPGRADE_FAULTS, type UpgradeFault } from '../sim/upgrade.js';
import { upgradeRequestFromSpec } from '../upgrade/request.js';
import { runUpgrade, UpgradeError, type UpgradeOutcome, upgradeSucceeded } from '../upgrade/run.js';
import { AWS_CREDENTIALS_NOTE, openAws } from './aws-options.js';
import { type CommandDef, type Io, UsageError, UserError } from './command.js';
import { awsCommandOptions, specArgument } from './options.js';

const SIM_FAULTS = UPGRADE_FAULTS;

const positiveInt = (v: unknown, flag: string, max: number): number => {
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max)
    throw new UsageError(`--${flag} must be a whole number from 1 to ${max} (got ${JSON.stringify(s)})`);
  return Number(s);
};

export function reportOutcome(o: UpgradeOutcome, io: Io): number {
  if (o.replacements.length > 0) io.out(`\nReplaced instances:\n${o.table}`);
  if (upgradeSucceeded(o)) {
    io.out(`upgrade ${o.result} in ${Math.round(o.elapsedMs / 1000)} s: ${o.message}`);
    return 0;
  }
  throw new UserError(`upgrade ${o.result}${o.paused ? ' while paused' : ''}: ${o.message}`);
}

export const upgradeCommand: CommandDef = {
  name: 'upgrade',
  summary: 'replace masters (one at a time, surge first), then workers, with the new launch templates',
  usage: `[options] [spec] [--abort] [--timeout-minutes N]
       tripod upgrade --simulate [--seed S] [--masters M] [--zones Z] [--workers W] [--faults a,b] [--seeds N]`,
  description: `Run apply first: it writes the new launch template versions (Kubernetes version, image or instance
type). upgrade then checks the cluster (every etcd member a healthy voter, no lifecycle action
pending, zone-loss survival, no skipped Kubernetes minor version) and replaces the masters with an
Auto Scaling instance refresh (min healthy 100 %: a new master joins before an old one leaves), then
the workers in batches (upgrade.workerMinHealthyPercentage). It pauses while the etcd quorum margin
is 0 and resumes when the cluster is healthy. Running it again resumes an upgrade in progress.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    {
      flags: '--abort',
      description: 'cancel the upgrade in progress and roll back to the previous launch templates',
    },
    {
      flags: '--timeout-minutes <n>',
      description: 'give up after N minutes; nothing is rolled back',
      default: '60',
    },
    {
      flags: '--simulate',
      description: 'run the upgrade in the simulator (real reconciler, simulated AWS and etcd)',
    },
    { flags: '--seed <s>', description: 'simulator seed', default: '1' },
    { flags: '--masters <m>', description: 'simulator masters (default: from --zones)' },
    { flags: '--zones <z>', description: 'simulator zones', default: '3' },
    { flags: '--workers <w>', description: 'simulator worker group size (default: none)' },
    {
      flags: '--faults <list>',
      description: `simulator faults mid-upgrade, comma-separated: ${SIM_FAULTS.join(', ')}`,
    },
    { flags: '--seeds <n>', description: 'run N seeds from --seed, each with its own mix of those faults' },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 completed, aborted or nothing to do; 1 refused, failed or timed out; 64 usage error.`,
  async run(values, io) {
    const timeoutMinutes = positiveInt(values['timeout-minutes'], 'timeout-minutes', 24 * 60);
    if (values.simulate) {
      const faults = String(values.faults ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const f of faults)
        if (!(SIM_FAULTS as readonly string[]).includes(f))
          throw new UsageError(`--faults: unknown fault "${f}" (known: ${SIM_FAULTS.join(', ')})`);
      if (values.seeds !== undefined) {
        const count = positiveInt(values.seeds, 'seeds', 100_000);
        const from = positiveInt(values.seed, 'seed', 2 ** 31);
        const { failed, upgradeMs } = await simulateUpgradeSeeds(
          {
            zones: positiveInt(values.zones, 'zones', 6),
            ...(values.masters !== undefined ? { masters: positiveInt(values.masters, 'masters', 9) } : {}),
            timeoutMs: timeoutMinutes * 60_000,
          },
          from,
          count,
        );
        const mean = upgradeMs.reduce((a, b) => a + b, 0) / Math.max(1, upgradeMs.length);
        io.out(
          `${count} seeds from ${from}: ${count - failed.length} passed, ${failed.length} failed; mean simulated upgrade ${(mean / 60_000).toFixed(1)} min`,
        );
        for (const f of failed)
          io.err(
            `seed ${f.seed} [${f.faults.join(',')}]: ${[...f.problems, ...f.violations.map((v) => `${v.rule}: ${v.detail}`)].join('; ')}\n  replay: tripod upgrade --simulate --seed ${f.seed} --faults ${f.faults.join(',')}`,
          );
        if (failed.length > 0) throw new UserError(`${failed.length} of ${count} simulated upgrades failed`);
        return 0;
      }
      const r = await simulateUpgrade({
        seed: positiveInt(values.seed, 'seed', 2 ** 31),
        zones: positiveInt(values.zones, 'zones', 6),
        ...(values.masters !== undefined ? { masters: positiveInt(values.masters, 'masters', 9) } : {}),
        faults: faults as UpgradeFault[],
        timeoutMs: timeoutMinutes * 60_000,
        ...(values.workers !== undefined ? { workers: positiveInt(values.workers, 'workers', 100) } : {}),
      });
      for (const l of r.lines) io.out(l);
      const last = r.outcomes.at(-1);
      if (last?.replacements.length) io.out(`\nReplaced instances:\n${last.table}`);
      io.out(
        `\nsimulated: ${(r.upgradeMs / 60_000).toFixed(1)} min, boot per master ${(r.bootMs.reduce((a, b) => a + b, 0) / Math.max(1, r.bootMs.length) / 1000).toFixed(1)} s, time beyond the masters' boots per master (faults, pauses and workers included) ${(r.overheadPerMasterMs / 1000).toFixed(1)} s`,
      );
      if (!r.ok)
        throw new UserError(
          `simulated upgrade failed: ${[...r.problems, ...r.violations.map((v) => `${v.rule}: ${v.detail}`)].join('; ')}`,
        );
      return 0;
    }
    const { spec, aws } = openAws(values);
    try {
      const outcome = await runUpgrade(
        createUpgradePort(aws),
        upgradeRequestFromSpec(spec, { abort: values.abort === true }),
        { timeoutMs: timeoutMinutes * 60_000, onProgress: (l) => io.out(l) },
      );
      return reportOutcome(outcome, io);
    } catch (e) {
      if (e instanceof UpgradeError || (e as Error).name === 'AwsApiError')
        throw new UserError((e as Error).message);
      throw e;
    } finally {
      aws.destroy();
    }
  },
};
