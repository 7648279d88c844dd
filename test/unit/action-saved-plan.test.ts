/**
 * Apply what was reviewed (issue 16): plan saves the plan with the spec's and what-it-read hashes;
 * apply with approved-plan compares its fresh plan and refuses, showing the difference, when they
 * differ (unless allow-plan-drift). The comparison itself is pure (src/provision/saved-plan.ts).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyCommand } from '../../src/action/apply.js';
import { type RunContext, readRunContext } from '../../src/action/context.js';
import type { Engine, PlanView } from '../../src/action/engine.js';
import { forkPullRequestMessage, noCredentialsMessage } from '../../src/action/errors.js';
import { InputError, parseInputs } from '../../src/action/inputs.js';
import { planCommand } from '../../src/action/plan.js';
import type { CommandRun } from '../../src/action/runner.js';
import { upgradeCommand } from '../../src/action/upgrade.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import type { Plan, PlannedChange } from '../../src/provision/plan.js';
import type { Found } from '../../src/provision/resource.js';
import {
  approvedPlanCheck,
  canonicalJson,
  comparePlans,
  observedHash,
  parseSavedPlan,
  type SavedPlan,
  savePlan,
  specHash,
} from '../../src/provision/saved-plan.js';
import { recorder } from '../support/action-runner.js';

const specText = (workers = 3) => `apiVersion: tripod/v1
kind: Cluster
name: saved-demo
region: eu-west-1
kubernetesVersion: 1.32.4
network:
  cidr: 10.40.0.0/16
  zones: [eu-west-1a, eu-west-1b, eu-west-1c]
workers:
  min: ${workers}
  max: 9
`;
const specOf = (text: string): ClusterSpec => {
  const r = parseSpec(text);
  if (!r.ok) throw new Error(`fixture spec is invalid: ${JSON.stringify(r.problems)}`);
  return r.spec;
};
const spec = specOf(specText());

const change = (over: Partial<PlannedChange> = {}): PlannedChange => ({
  action: 'update',
  key: 'asg/workers',
  kind: 'auto-scaling-group',
  group: 'workers',
  title: 'autoscaling group saved-demo-workers',
  id: 'saved-demo-workers',
  changes: [{ field: 'MinSize', before: 2, after: 3 }],
  ...over,
});
const planOf = (changes: PlannedChange[], conflicts: string[] = []): Plan => ({
  cluster: 'saved-demo',
  region: 'eu-west-1',
  mode: 'apply',
  changes,
  summary: { create: 0, update: changes.length, replace: 0, delete: 0 },
  hasChanges: changes.length > 0,
  destructive: [],
  conflicts,
  warnings: [],
});
const found = (instances: string[]): Map<string, Found> =>
  new Map([
    [
      'asg/workers',
      {
        key: 'asg/workers',
        kind: 'auto-scaling-group',
        title: 'autoscaling group saved-demo-workers',
        id: 'saved-demo-workers',
        owned: true,
        attrs: { name: 'saved-demo-workers' },
        actual: { MinSize: 2, Instances: instances, CreatedTime: new Date('2026-01-01T00:00:00Z') },
      },
    ],
  ]);
const saved = (s: ClusterSpec, changes: PlannedChange[], instances = ['i-1'], conflicts: string[] = []) =>
  savePlan(
    s,
    { plan: planOf(changes, conflicts), found: found(instances) },
    { now: new Date('2026-02-01T00:00:00Z') },
  );

describe('saved plans (pure)', () => {
  it('canonical JSON: key order, Maps, Dates and undefined do not change the text', () => {
    expect(canonicalJson({ b: 1, a: { d: undefined, c: new Date(0) } })).toBe(
      canonicalJson({ a: { c: '1970-01-01T00:00:00.000Z' }, b: 1 }),
    );
    expect(canonicalJson(new Map([['x', 1]]))).toBe('{"x":1}');
  });

  it('the spec hash ignores formatting and comments, not values', () => {
    const reformatted = specOf(`# a comment\n${specText().replace('max: 9', 'max:   9   # room')}`);
    expect(specHash(reformatted)).toBe(specHash(spec));
    expect(specHash(specOf(specText(4)))).not.toBe(specHash(spec));
  });

  it('the same plan from the same spec is the same, even when AWS read differently', () => {
    const a = saved(spec, [change()], ['i-1']);
    const b = saved(spec, [change()], ['i-2']);
    expect(a.observedHash).not.toBe(b.observedHash);
    expect(comparePlans(a, b)).toEqual({ same: true, differences: [], observedChanged: true });
    expect(approvedPlanCheck(a, b, { allowDrift: false, file: 'plan.json' }).message).toMatch(
      /the plan is the approved one, plan.json .*AWS reads differently since/,
    );
  });

  it('a changed field, a new change, a dropped change, a new conflict and another spec are each shown', () => {
    const approved = saved(spec, [
      change(),
      change({ action: 'create', key: 'sg/x', title: 'security group x', id: undefined, changes: [] }),
    ]);
    const fresh = saved(
      specOf(specText(4)),
      [
        change({ changes: [{ field: 'MinSize', before: 2, after: 4 }] }),
        change({ action: 'delete', key: 'lt/old', title: 'launch template old', id: 'lt-0', changes: [] }),
      ],
      ['i-1'],
      ['subnet in the way'],
    );
    const cmp = comparePlans(approved, fresh);
    expect(cmp.same).toBe(false);
    const text = cmp.differences.join('\n');
    expect(text).toMatch(/the spec is not the reviewed one: sha256:/);
    expect(text).toContain('changed since the review; reviewed:');
    expect(text).toContain('MinSize: 2 -> 3');
    expect(text).toContain('MinSize: 2 -> 4');
    expect(text).toMatch(/reviewed, no longer planned:\n\s+\+ security group x/);
    expect(text).toMatch(/not in the reviewed plan:\n\s+- launch template old \(lt-0\)/);
    expect(text).toContain('new conflict: subnet in the way');
    const refusal = approvedPlanCheck(approved, fresh, { allowDrift: false, file: 'plan.json' });
    expect(refusal.ok).toBe(false);
    expect(refusal.message).toMatch(/^apply refused: the plan differs from the approved one, plan.json/);
    expect(approvedPlanCheck(approved, fresh, { allowDrift: true, file: 'plan.json' }).ok).toBe(true);
  });

  it('a fresh plan with nothing to apply passes (a re-run after the approved changes went in)', () => {
    const approved = saved(spec, [change()]);
    const done = saved(spec, []);
    expect(comparePlans(approved, done).same).toBe(false);
    const v = approvedPlanCheck(approved, done, { allowDrift: false, file: 'plan.json' });
    expect(v.ok).toBe(true);
    expect(v.message).toMatch(/^nothing left to apply/);
    // ...but not when something is in the way
    expect(
      approvedPlanCheck(approved, saved(spec, [], ['i-1'], ['subnet in the way']), {
        allowDrift: false,
        file: 'p',
      }).ok,
    ).toBe(false);
  });

  it('a file that is not a saved plan is refused naming the file and the field', () => {
    expect(() => parseSavedPlan('{', 'x.json')).toThrow(/^x.json: not a saved tripod plan \(not JSON/);
    const good = saved(spec, [change()]);
    expect(parseSavedPlan(JSON.stringify(good), 'ok.json')).toEqual(good);
    expect(() => parseSavedPlan(JSON.stringify({ ...good, specHash: 'abc' }), 'bad.json')).toThrow(
      /^bad.json: not a saved tripod plan \(tripod-plan\/1\) at specHash: must be sha256/,
    );
    expect(() =>
      parseSavedPlan(JSON.stringify({ ...good, plan: { ...good.plan, changes: [{}] } }), 'b.json'),
    ).toThrow(/at plan.changes.0.action/);
  });

  it('observedHash does not depend on the order things were found in', () => {
    const f = [...found(['i-1']).values()];
    const g = { ...f[0]!, key: 'asg/masters', id: 'saved-demo-masters' };
    expect(observedHash([f[0]!, g])).toBe(observedHash([g, f[0]!]));
  });
});

// --- the Action's commands over a stand-in engine ---------------------------------------------

const view = (s: SavedPlan): PlanView => ({
  hasChanges: s.plan.hasChanges,
  changesCount: s.plan.changes.length,
  destructive: [],
  conflicts: [],
  diff: '~ autoscaling group saved-demo-workers',
  text: 'update workers',
  json: s.plan,
  saved: s,
});

function engine(planned: () => SavedPlan, applied: string[]): Engine {
  return {
    plan: async () => view(planned()),
    apply: async () => {
      applied.push('apply');
    },
    destroy: async () => {},
    endpoints: async () => ({ api: undefined, service: undefined }),
    status: async () => {
      throw new Error('not used');
    },
    checkCredentials: async () => {},
    upgrade: async () => ({
      result: 'nothing-to-do',
      message: 'nothing to roll',
      paused: false,
      replacements: [],
      table: '',
      elapsedMs: 1,
    }),
    apiCalls: () => 0,
    close: () => {},
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tripod-saved-plan-'));
const context = (over: Partial<RunContext> = {}): RunContext => ({
  eventName: 'pull_request',
  repository: 'acme/infra',
  apiUrl: 'http://127.0.0.1:1',
  serverUrl: 'https://github.example',
  runId: '1',
  sha: 'merge0000000',
  pullRequest: 12,
  headSha: 'head11111111abcdef',
  runUrl: undefined,
  tempDir: dir,
  forkRepository: undefined,
  ...over,
});

function commandRun(
  e: Engine,
  inputs: Record<string, string>,
  rec = recorder(),
  ctx = context(),
): CommandRun {
  return {
    inputs: parseInputs((n) => inputs[n] ?? '', ctx.eventName),
    spec,
    topology: deriveTopology(spec),
    context: ctx,
    engine: e,
    runner: rec.runner,
  };
}

describe('the Action: plan saves, apply compares', () => {
  it('plan writes the saved plan (with the pull request head commit) and sets plan-file and the hashes', async () => {
    const rec = recorder();
    await planCommand(
      commandRun(
        engine(() => saved(spec, [change()]), []),
        { 'comment-on-pr': 'false' },
        rec,
      ),
    );
    const file = rec.outputs['plan-file']!;
    expect(file).toBe(join(dir, 'tripod', 'plan-saved-demo.json'));
    const written = parseSavedPlan(readFileSync(file, 'utf8'), file);
    expect(written.commit).toBe('head11111111abcdef');
    expect(written.specHash).toBe(specHash(spec));
    expect(rec.outputs['spec-hash']).toBe(written.specHash);
    expect(rec.outputs['observed-hash']).toBe(written.observedHash);
  });

  it('apply with the same plan applies; with a different one refuses before touching anything and shows the difference', async () => {
    const approvedFile = join(dir, 'approved.json');
    const rec0 = recorder();
    await planCommand(
      commandRun(
        engine(() => saved(spec, [change()]), []),
        { 'comment-on-pr': 'false', 'plan-file': approvedFile },
        rec0,
      ),
    );

    const applied: string[] = [];
    const same = recorder();
    const push = context({ eventName: 'push', pullRequest: undefined, headSha: undefined });
    await applyCommand(
      commandRun(
        engine(() => saved(spec, [change()], ['i-9']), applied),
        { command: 'apply', 'approved-plan': approvedFile },
        same,
        push,
      ),
    );
    expect(applied).toEqual(['apply']);
    expect(same.log.join('\n')).toMatch(/the plan is the approved one/);

    const other = recorder();
    const drifted = () => saved(spec, [change({ changes: [{ field: 'MinSize', before: 1, after: 3 }] })]);
    await expect(
      applyCommand(
        commandRun(
          engine(drifted, applied),
          { command: 'apply', 'approved-plan': approvedFile },
          other,
          push,
        ),
      ),
    ).rejects.toThrow(
      /apply refused: the plan differs from the approved one[\s\S]*MinSize: 2 -> 3[\s\S]*MinSize: 1 -> 3/,
    );
    expect(applied).toEqual(['apply']);
    expect(other.summary()).toContain('## tripod apply refused: not the approved plan');

    // upgrade applies through the same check
    await expect(
      upgradeCommand(
        commandRun(
          engine(drifted, applied),
          { command: 'upgrade', 'approved-plan': approvedFile },
          recorder(),
          push,
        ),
      ),
    ).rejects.toThrow(/apply refused: the plan differs/);
    expect(applied).toEqual(['apply']);

    const allowed = recorder();
    await applyCommand(
      commandRun(
        engine(drifted, applied),
        { command: 'apply', 'approved-plan': approvedFile, 'allow-plan-drift': 'true' },
        allowed,
        push,
      ),
    );
    expect(applied).toEqual(['apply', 'apply']);
    expect(allowed.log.join('\n')).toMatch(
      /::warning::the plan differs from the approved one.*applying anyway/,
    );
  });

  it('a missing or broken approved plan is a clear error and nothing is applied', async () => {
    const applied: string[] = [];
    const push = context({ eventName: 'push' });
    await expect(
      applyCommand(
        commandRun(
          engine(() => saved(spec, [change()]), applied),
          { command: 'apply', 'approved-plan': join(dir, 'nope.json') },
          recorder(),
          push,
        ),
      ),
    ).rejects.toThrow(/approved-plan: cannot read .*nope.json \(ENOENT\): download the plan artifact/);
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"format":"tripod-plan/0"}');
    await expect(
      applyCommand(
        commandRun(
          engine(() => saved(spec, [change()]), applied),
          { command: 'apply', 'approved-plan': broken },
          recorder(),
          push,
        ),
      ),
    ).rejects.toThrow(/approved-plan: .*broken.json: not a saved tripod plan \(tripod-plan\/1\) at format/);
    expect(applied).toEqual([]);
  });

  it('inputs: approved-plan only with apply/upgrade, allow-plan-drift only with approved-plan, plan-file only with plan', () => {
    const parse = (i: Record<string, string>) => () => parseInputs((n) => i[n] ?? '', 'push');
    expect(parse({ command: 'plan', 'approved-plan': 'p.json' })).toThrow(
      /approved-plan: only used with command apply or upgrade/,
    );
    expect(parse({ command: 'apply', 'allow-plan-drift': 'true' })).toThrow(
      /allow-plan-drift: only used with approved-plan/,
    );
    expect(parse({ command: 'apply', 'plan-file': 'p.json' })).toThrow(
      /plan-file: only used with command plan/,
    );
    expect(parse({ command: 'apply', 'approved-plan': 'p.json', 'allow-plan-drift': 'maybe' })).toThrow(
      InputError,
    );
    expect(
      parseInputs((n) => ({ command: 'upgrade', 'approved-plan': 'p.json' })[n] ?? '', 'push'),
    ).toMatchObject({
      approvedPlan: 'p.json',
      allowPlanDrift: false,
    });
  });
});

describe('pull requests from forks', () => {
  it('the missing-credentials message names the fork and does not blame id-token: write', () => {
    const env = { GITHUB_ACTIONS: 'true' };
    const msg = noCredentialsMessage('eu-west-1', env, 'mallory/infra');
    expect(msg).toBe(forkPullRequestMessage('mallory/infra'));
    expect(msg).toContain('pull request from the fork mallory/infra');
    expect(msg).toContain('This is not a missing `id-token: write`');
    expect(msg).not.toContain('its permissions lack');
    // not a fork: the id-token hint stays
    expect(noCredentialsMessage('eu-west-1', env)).toContain('its permissions lack `id-token: write`');
  });

  it('the run context knows a fork pull request from its event payload', () => {
    const event = (head: unknown) => {
      const f = join(dir, `event-${Math.random()}.json`);
      writeFileSync(f, JSON.stringify({ pull_request: { number: 3, head } }));
      return readRunContext({
        GITHUB_EVENT_PATH: f,
        GITHUB_REPOSITORY: 'acme/infra',
        GITHUB_EVENT_NAME: 'pull_request',
      });
    };
    expect(event({ sha: 'a', repo: { full_name: 'mallory/infra' } }).forkRepository).toBe('mallory/infra');
    expect(event({ sha: 'a', repo: { full_name: 'Acme/Infra' } }).forkRepository).toBeUndefined();
    expect(event({ sha: 'a', repo: null }).forkRepository).toBe('(deleted fork)');
  });
});
