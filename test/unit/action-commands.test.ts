/** The action's commands over a stand-in Engine: what they log, output, summarise and refuse. */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { applyCommand } from '../../src/action/apply.js';
import type { RunContext } from '../../src/action/context.js';
import { destroyCommand } from '../../src/action/destroy.js';
import type { ClusterStatus, Engine, PlanView } from '../../src/action/engine.js';
import { parseInputs } from '../../src/action/inputs.js';
import { planCommand } from '../../src/action/plan.js';
import type { CommandRun } from '../../src/action/runner.js';
import { statusCommand } from '../../src/action/status.js';
import { withTimeout } from '../../src/action/timeout.js';
import { upgradeCommand } from '../../src/action/upgrade.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import type { UpgradeOutcome } from '../../src/upgrade/run.js';
import { recorder } from '../support/action-runner.js';
import { minimalClusterSpec } from '../support/spec-text.js';

const spec = minimalClusterSpec({ name: 'unit-demo' });

const plan = (over: Partial<PlanView> = {}): PlanView => ({
  hasChanges: true,
  changesCount: 2,
  destructive: [],
  conflicts: [],
  diff: '+ vpc unit-demo (10.40.0.0/16)\n+ autoscaling group unit-demo-masters',
  text: 'create vpc\ncreate group',
  json: { changes: 2 },
  ...over,
});

const upgradeOutcome = (over: Partial<UpgradeOutcome> = {}): UpgradeOutcome => ({
  result: 'completed',
  message: 'masters and workers run Kubernetes 1.32.4',
  paused: false,
  replacements: [],
  table: '',
  elapsedMs: 90_000,
  ...over,
});

function engine(over: Partial<Engine> = {}): Engine {
  return {
    plan: async () => plan(),
    apply: async (_s, _p, o) => {
      o.onProgress({ group: 'network', message: 'created vpc' });
      o.onProgress({ group: 'masters', message: 'created group' });
    },
    destroy: async () => {},
    endpoints: async () => ({ api: 'unit-demo-api.elb.example', service: undefined }),
    status: async () => {
      throw new Error('not used');
    },
    checkCredentials: async () => {},
    upgrade: async () => upgradeOutcome(),
    apiCalls: () => 0,
    close: () => {},
    ...over,
  };
}

const context: RunContext = {
  eventName: 'push',
  repository: 'acme/infra',
  apiUrl: 'http://127.0.0.1:1',
  serverUrl: 'https://github.example',
  runId: '1',
  sha: 'abcdef1234567',
  pullRequest: undefined,
  headSha: undefined,
  runUrl: undefined,
  tempDir: tmpdir(),
  forkRepository: undefined,
};

function commandRun(e: Engine, inputs: Record<string, string>, rec = recorder()): CommandRun {
  return {
    inputs: parseInputs((n) => inputs[n] ?? '', 'push'),
    spec,
    topology: deriveTopology(spec),
    context,
    engine: e,
    runner: rec.runner,
  };
}

describe('plan', () => {
  it('summarises topology, mermaid, zone-loss survival and the diff; sets outputs', async () => {
    const rec = recorder();
    await planCommand(commandRun(engine(), {}, rec));
    const md = rec.summary();
    expect(md).toContain('## tripod plan: `unit-demo` in eu-west-1');
    expect(md).toContain('| eu-west-1a | 1 | 2 | yes |');
    expect(md).toContain('```mermaid\nflowchart TB');
    expect(md).toContain('keeps etcd quorum (2 of 3) when any one of its 3 zones is lost');
    expect(md).toContain('```diff\n+ vpc unit-demo (10.40.0.0/16)');
    expect(rec.outputs).toMatchObject({
      'has-changes': 'true',
      'changes-count': '2',
      'plan-json': '{"changes":2}',
      'api-endpoint': 'unit-demo-api.elb.example',
      'service-endpoint': '',
    });
  });

  it('"No changes" is a success', async () => {
    const rec = recorder();
    await planCommand(
      commandRun(
        engine({ plan: async () => plan({ hasChanges: false, changesCount: 0, diff: '' }) }),
        {},
        rec,
      ),
    );
    expect(rec.summary()).toContain('**No changes.**');
    expect(rec.outputs['has-changes']).toBe('false');
  });
});

describe('apply', () => {
  it('streams progress in one group per step', async () => {
    const rec = recorder();
    await applyCommand(commandRun(engine(), { command: 'apply' }, rec));
    const i = rec.log.indexOf('::group::network');
    expect(rec.log.slice(i, i + 6)).toEqual([
      '::group::network',
      'created vpc',
      '::endgroup::',
      '::group::masters',
      'created group',
      '::endgroup::',
    ]);
    expect(rec.log.at(-1)).toBe('Applied 2 change(s).');
  });

  it('refuses destructive changes without allow-destructive, before touching anything', async () => {
    let applied = false;
    const e = engine({
      plan: async () => plan({ destructive: ['replace load balancer unit-demo-api (scheme changed)'] }),
      apply: async () => {
        applied = true;
      },
    });
    await expect(applyCommand(commandRun(e, { command: 'apply' }))).rejects.toThrow(
      /apply refused: 1 change\(s\) replace or delete resources[\s\S]*unit-demo-api \(scheme changed\)/,
    );
    expect(applied).toBe(false);
    await applyCommand(commandRun(e, { command: 'apply', 'allow-destructive': 'true' }));
    expect(applied).toBe(true);
  });

  it('refuses a plan with conflicts before touching anything', async () => {
    let applied = false;
    const e = engine({
      plan: async () => plan({ conflicts: ['vpc unit-demo (vpc-1) already exists without the tags'] }),
      apply: async () => {
        applied = true;
      },
    });
    await expect(
      applyCommand(commandRun(e, { command: 'apply', 'allow-destructive': 'true' })),
    ).rejects.toThrow(
      /apply refused: 1 resource\(s\) in the way[\s\S]*vpc unit-demo \(vpc-1\) already exists/,
    );
    expect(applied).toBe(false);
  });

  it('fails with the reason and the step it was at', async () => {
    const e = engine({
      apply: async (_s, _p, o) => {
        o.onProgress({ group: 'load balancers', message: 'creating unit-demo-api' });
        throw new Error('elasticloadbalancing:CreateLoadBalancer failed: quota reached');
      },
    });
    await expect(applyCommand(commandRun(e, { command: 'apply' }))).rejects.toThrow(
      'apply failed (at load balancers: creating unit-demo-api): elasticloadbalancing:CreateLoadBalancer failed: quota reached',
    );
  });
});

describe('timeout', () => {
  it('aborts the work and names the step it was at', async () => {
    let aborted = false;
    const p = withTimeout(
      'apply',
      0.001,
      () => 'masters: waiting for 3 instances',
      (signal) => {
        signal.addEventListener('abort', () => {
          aborted = true;
        });
        return new Promise(() => {});
      },
    );
    await expect(p).rejects.toThrow(
      /apply did not finish within timeout-minutes \(0.001\); it was at: masters: waiting for 3 instances/,
    );
    expect(aborted).toBe(true);
  });
});

describe('destroy and upgrade', () => {
  it('destroy needs confirm-destroy equal to the cluster name', async () => {
    let destroyed = false;
    const e = engine({
      destroy: async () => {
        destroyed = true;
      },
    });
    await expect(destroyCommand(commandRun(e, { command: 'destroy' }))).rejects.toThrow(
      'destroy refused: set confirm-destroy to the cluster name "unit-demo" to delete it (it is empty). Nothing was changed.',
    );
    await expect(
      destroyCommand(commandRun(e, { command: 'destroy', 'confirm-destroy': 'unit-dem' })),
    ).rejects.toThrow('(got "unit-dem")');
    expect(destroyed).toBe(false);
    await destroyCommand(commandRun(e, { command: 'destroy', 'confirm-destroy': 'unit-demo' }));
    expect(destroyed).toBe(true);
  });

  it('upgrade applies first, then rolls the instances and reports the outcome', async () => {
    const order: string[] = [];
    const rec = recorder();
    const e = engine({
      apply: async () => {
        order.push('apply');
      },
      upgrade: async (_s, o) => {
        order.push('upgrade');
        o.onProgress('0:05 masters: i-new1 joined');
        return upgradeOutcome({ replacements: [{} as never], table: '| old | new |' });
      },
    });
    await upgradeCommand(commandRun(e, { command: 'upgrade' }, rec));
    expect(order).toEqual(['apply', 'upgrade']);
    expect(rec.log).toContain('0:05 masters: i-new1 joined');
    expect(rec.summary()).toContain('## tripod upgrade: `unit-demo` to Kubernetes 1.32.4');
    expect(rec.summary()).toContain(':white_check_mark: **completed** after 90 s');
    expect(rec.summary()).toContain('| old | new |');
  });

  it('a refused or timed-out upgrade fails with its reason', async () => {
    const refused = engine({
      upgrade: async () =>
        upgradeOutcome({
          result: 'refused',
          message: 'upgrade refused, nothing was changed:\n  - no status',
        }),
    });
    await expect(upgradeCommand(commandRun(refused, { command: 'upgrade' }))).rejects.toThrow(
      'upgrade refused: upgrade refused, nothing was changed:\n  - no status',
    );
    const late = engine({
      upgrade: async () => upgradeOutcome({ result: 'timed-out', message: 'at masters' }),
    });
    await expect(upgradeCommand(commandRun(late, { command: 'upgrade' }))).rejects.toThrow(
      'upgrade timed-out: at masters Run upgrade again to resume where it stopped.',
    );
  });
});

describe('status', () => {
  const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
  const base = (healthy: boolean[]): ClusterStatus => ({
    cluster: 'unit-demo',
    region: 'eu-west-1',
    expectedMasters: 3,
    quorum: 2,
    mastersPerZone: { 'eu-west-1a': 1, 'eu-west-1b': 1, 'eu-west-1c': 1 },
    instances: zones.map((z, i) => ({
      instanceId: `i-${i}`,
      zone: z,
      lifecycleState: 'InService',
      health: 'Healthy',
    })),
    targets: zones.map((_, i) => ({ instanceId: `i-${i}`, health: 'healthy' })),
    etcd: {
      members: healthy.map((h, i) => ({
        id: String(100 + i),
        name: `i-${i}`,
        isLearner: false,
        healthy: h,
        leader: i === 0,
      })),
      healthyVoters: healthy.filter(Boolean).length,
    },
    lastReconcile: { at: '2026-01-01T00:00:00Z', result: 'ok' },
  });

  it('passes when all voters are healthy and reports members', async () => {
    const rec = recorder();
    await statusCommand(
      commandRun(engine({ status: async () => base([true, true, true]) }), { command: 'status' }, rec),
    );
    expect(rec.summary()).toContain('**Healthy**: 3 of 3 etcd voters healthy (quorum 2)');
    expect(rec.summary()).toContain('| 100 | i-0 | voter, leader | yes |');
  });

  it('fails when zone-loss survival is lost (one voter down)', async () => {
    await expect(
      statusCommand(
        commandRun(engine({ status: async () => base([true, false, true]) }), { command: 'status' }),
      ),
    ).rejects.toThrow(
      /zone-loss survival is LOST: losing eu-west-1a would leave 1 healthy voters, below quorum 2/,
    );
  });

  it('fails when quorum is lost', async () => {
    await expect(
      statusCommand(
        commandRun(engine({ status: async () => base([true, false, false]) }), { command: 'status' }),
      ),
    ).rejects.toThrow(/etcd quorum is LOST: 1 healthy voting member of 3, quorum is 2/);
  });
});
