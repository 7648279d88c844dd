/** `tripod sandbox`: the example cluster in the simulator with REAL etcd processes, and the article's failures. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSpecFile } from '../cluster-spec/file.js';
import { formatProblem } from '../cluster-spec/load.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { topologyTable } from '../cluster-spec/topology-render.js';
import { ETCD_VERSION } from '../cluster-spec/versions.js';
import { renderPlanText } from '../provision/plan-render.js';
import { EtcdBinaryError, locateEtcdTool } from '../sim/etcd-bin.js';
import { interruptCleanup, killAllEtcd } from '../sim/etcd-real.js';
import {
  runSandbox,
  type SandboxResult,
  SCENARIO_TITLES,
  SCENARIOS,
  type ScenarioName,
  scenarioOrder,
} from '../sim/sandbox.js';
import { type CommandDef, choice, jsonDocument, UsageError, UserError } from './command.js';
import { formatOption, jsonAlias, specArgument, specOption } from './options.js';

const DEFAULT_SPEC = 'examples/three-zones.yaml';

/** The spec: as given, or the bundled example when run from elsewhere. */
function specPath(given: string | undefined): string {
  if (given !== undefined) return given;
  if (existsSync(DEFAULT_SPEC)) return DEFAULT_SPEC;
  const bundled = fileURLToPath(new URL(`../../${DEFAULT_SPEC}`, import.meta.url));
  return existsSync(bundled) ? bundled : DEFAULT_SPEC;
}

function requireTool(bin: string, args: string[], how: string): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT'
        ? `${bin} is not installed. ${how}`
        : `${bin} ${args.join(' ')} failed: ${(e as Error).message}. ${how}`,
    );
  }
}

export function parseScenarios(list: string): ScenarioName[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new UsageError('--scenarios needs at least one scenario');
  for (const n of names) {
    if (!(SCENARIOS as readonly string[]).includes(n))
      throw new UsageError(`--scenarios: unknown scenario "${n}" (known: ${SCENARIOS.join(', ')})`);
  }
  return names as ScenarioName[];
}

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function summaryTable(r: SandboxResult): string {
  const rows = [
    ['scenario', 'healed', 'simulated', 'real', 'reconciler', 'passes', 'min margin', 'data'],
    ...r.scenarios.map((s) => [
      s.name,
      s.healed ? 'yes' : 'NO',
      s1(s.simulatedMs),
      s1(s.realMs),
      s1(s.reconcilerMs),
      String(s.passes),
      String(s.minQuorumMargin),
      s.dataOk ? 'ok' : 'LOST',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const sandboxCommand: CommandDef = {
  name: 'sandbox',
  summary: 'run the example cluster on this machine (real etcd) and play the failure scenarios',
  description: `The project's main job on one machine. Validates the spec and prints its topology, plans the
cluster's resources against an empty world and "provisions" them into the cloud simulator (master
and worker groups, lifecycle hooks, the API target group, the configuration parameter), then boots
the masters as REAL etcd processes (etcd ${ETCD_VERSION}, mutual TLS, one 127.x address per
instance) through the join handshake: the reconciler (the Lambda's code) seeds etcd, adds each
other master as a learner and promotes it. Then it plays the failure scenarios one after another
and prints a live timeline: what failed, what the reconciler decided and why, the quorum margin,
and the time to heal in simulated and real seconds. Keys written before the faults must be
readable after every scenario.

Simulated delays (boots, polls, the one-minute schedule, the 120 s debounce) run 20 times faster
than the wall clock; etcd itself runs in real time. A partition is approximated by freezing the
zone's etcd processes (SIGSTOP): loopback cannot be partitioned without network namespaces.

Scenarios (default: all, in this order; zone-back without a lost zone gets a lose-zone first):
${SCENARIOS.map((s) => `  ${s.padEnd(12)} ${SCENARIO_TITLES[s]}`).join('\n')}`,
  argument: specArgument,
  options: [
    {
      ...specOption,
      default: undefined,
      description: `the cluster spec (default: ${DEFAULT_SPEC}, also when run outside a checkout); may also be given as the argument`,
    },
    { flags: '--seed <s>', description: 'which instances and zones fail', default: '1' },
    { flags: '--scenarios <list>', description: 'comma-separated subset of the scenarios above' },
    { flags: '--keep', description: 'keep the working directory (etcd data dirs, logs, certificates)' },
    {
      ...formatOption(['text', 'json']),
      description:
        'text, or json: the result as one JSON document on stdout (the live timeline goes to stderr)',
    },
    jsonAlias,
    /** Internal: virtual seconds per real second. */
    { flags: '--speed <n>', description: 'internal: virtual seconds per real second', hidden: true },
  ],
  footer: `Needs etcd ${ETCD_VERSION} (bash scripts/setup.sh builds it with Go into .tripod/bin) and openssl.
Exit codes: 0 every scenario healed and the data survived, 1 something did not heal, 64 usage error.`,
  async run(values, io) {
    const seedText = String(values.seed);
    if (!/^\d+$/.test(seedText))
      throw new UsageError(`--seed must be a whole number (got ${JSON.stringify(seedText)})`);
    const scenarios =
      values.scenarios === undefined ? [...SCENARIOS] : parseScenarios(String(values.scenarios));
    const speed = values.speed === undefined ? undefined : Number(values.speed);
    if (speed !== undefined && !(speed >= 1 && speed <= 100))
      throw new UsageError('--speed must be from 1 to 100');
    const json = choice(values.format, ['text', 'json'] as const, 'format') === 'json';
    const live = json ? io.err : io.out;

    let etcd: { path: string; version: string };
    try {
      etcd = locateEtcdTool('etcd');
    } catch (e) {
      if (e instanceof EtcdBinaryError) throw new UserError(e.message);
      throw e;
    }
    requireTool('openssl', ['version'], 'Install it with: sudo apt-get install openssl');
    const file = specPath(typeof values.spec === 'string' ? values.spec : undefined);
    const loaded = loadSpecFile(file);
    if (!loaded.ok) {
      throw new UserError(`${loaded.problems.map(formatProblem).join('\n')}\n${file}: invalid spec`);
    }
    const spec = loaded.spec;
    const topology = deriveTopology(spec);
    if (topology.masters < 3)
      throw new UserError(
        `${file}: the sandbox needs at least 3 masters (this spec has ${topology.masters})`,
      );
    const shownPath = relative(process.cwd(), etcd.path);
    live(
      `${file} is valid. etcd Version: ${etcd.version} (${shownPath.startsWith('..') ? etcd.path : shownPath}, the version the masters install)\n`,
    );
    live(topologyTable(topology));
    live('');

    const onSignal = () => {
      const n = interruptCleanup();
      io.err(`\ninterrupted: ${n} etcd process${n === 1 ? '' : 'es'} stopped, working directory removed`);
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      let planShown = false;
      const result = await runSandbox({
        spec,
        seed: Number(seedText),
        scenarios,
        etcdBin: etcd.path,
        keep: values.keep === true,
        ...(speed !== undefined ? { speed } : {}),
        out: (line) => {
          live(line);
        },
        onPlan: (plan) => {
          if (planShown) return;
          planShown = true;
          live(renderPlanText(plan));
          live('');
        },
      });
      live('');
      live(summaryTable(result));
      live('');
      const healed = result.scenarios.filter((s) => s.healed).length;
      const ran = scenarioOrder(scenarios).length;
      live(
        `${result.ok ? 'OK' : 'FAILED'}: cluster formed ${result.boot.healed ? 'yes' : 'NO'}; ${healed} of ${ran} scenarios healed; ` +
          `${result.keysWritten} keys written before the faults ${result.keysOk ? 'all readable at the end' : 'NOT all readable'}; ` +
          `${result.violations.length === 0 ? 'no invariant broken' : `invariants broken: ${result.violations.join('; ')}`}; ` +
          `${result.leftoverPids.length === 0 ? 'no etcd process left' : `etcd processes left: ${result.leftoverPids.join(' ')}`}` +
          (values.keep ? `; kept ${result.dir}` : ''),
      );
      if (json) {
        const { timeline, plan, ...rest } = result;
        io.out(jsonDocument({ ...rest, planSummary: plan.summary, timeline }));
      }
      return result.ok ? 0 : 1;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      killAllEtcd();
    }
  },
};
