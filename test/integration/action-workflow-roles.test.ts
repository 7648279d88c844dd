/**
 * The example workflows are safe to copy (issue 16): actionlint passes on every workflow (examples and
 * .github/), every role they assume exists in infra/ and trusts the OIDC subject GitHub gives that
 * job (pull_request for plan, the ref or environment for apply), job timeouts fit in the role session,
 * each concurrency group is separate (a drift check never shares apply's), upgrades go through a
 * pull request, forks are skipped with a notice, and third-party actions are pinned by commit SHA.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Cfn, loadTemplate, resolveRoles } from '../support/iam.js';

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  environment?: string | { name: string };
  'timeout-minutes'?: number;
  permissions?: Record<string, string>;
  concurrency?: string | { group: string; 'cancel-in-progress'?: boolean };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: string | { group: string };
  jobs: Record<string, Job>;
}

const ACTIONLINT = '.tripod/bin/actionlint';
const EXAMPLES = 'examples/workflows';
const files = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f));
const allWorkflowFiles = [...files(EXAMPLES), ...files('.github/workflows')];
const examples = files(EXAMPLES).map((file) => ({
  file,
  text: readFileSync(file, 'utf8'),
  wf: parse(readFileSync(file, 'utf8')) as Workflow,
}));

const TRIPOD = 'tripod-dev/tripod@';
const CREDENTIALS = 'aws-actions/configure-aws-credentials@';
const CHANGING = ['apply', 'upgrade', 'destroy'];

/** The repository, branch and environment the account stack is deployed for in the examples' header. */
const REPO = 'acme/infra';
const DEFAULT_REF = 'refs/heads/main';

function runActionlint(paths: string[]) {
  const r = spawnSync(ACTIONLINT, ['-no-color', '-format', '{{json .}}', ...paths], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return {
    code: r.status,
    errors: JSON.parse(r.stdout || '[]') as Array<{ filepath: string; line: number; message: string }>,
  };
}

describe('actionlint', () => {
  it('is installed by scripts/setup.sh', () => {
    expect(existsSync(ACTIONLINT), `${ACTIONLINT} is missing: run bash scripts/setup.sh`).toBe(true);
  });

  it('passes on every workflow (examples/workflows and .github/workflows)', () => {
    expect(allWorkflowFiles.length).toBeGreaterThanOrEqual(4);
    const r = runActionlint(allWorkflowFiles);
    expect(r.errors.map((e) => `${e.filepath}:${e.line}: ${e.message}`)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('refuses what it should (not a vacuous pass): a bad expression and an unquoted variable in a script', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripod-actionlint-'));
    const bad = join(dir, 'bad.yml');
    writeFileSync(
      bad,
      `on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \${{ github.nope_nope }} $FOO\n`,
    );
    const r = runActionlint([bad]);
    expect(r.code).toBe(1);
    expect(r.errors.map((e) => e.message).join('\n')).toMatch(/nope_nope/);
    expect(r.errors.map((e) => e.message).join('\n')).toMatch(/SC2086/);
  });
});

// ---------------------------------------------------------------------------------------------
// The roles of infra/tripod-setup.yaml and their trust

const template = loadTemplate('infra/tripod-setup.yaml');

/** The roles the account stack makes, by physical name, with their resolved trust and session limit. */
function accountRoles(given: Record<string, string>) {
  const resolved = resolveRoles(template, 'eu-west-1', given);
  const out = new Map<string, { logicalId: string; trust: Cfn; maxSession: number }>();
  for (const [id, r] of Object.entries<Cfn>(template.Resources)) {
    if (r.Type !== 'AWS::IAM::Role') continue;
    // The trust policy, resolved like the role's own policies (a probe role carrying it).
    const probe = resolveRoles(
      {
        ...template,
        Resources: {
          Probe: {
            Type: 'AWS::IAM::Role',
            Properties: {
              RoleName: 'probe',
              Policies: [{ PolicyName: 'trust', PolicyDocument: r.Properties.AssumeRolePolicyDocument }],
            },
          },
        },
      },
      'eu-west-1',
      given,
    );
    const role = Object.values(resolved.roles).find((x) => x.logicalId === id)!;
    out.set(role.arn.split('/').pop()!, {
      logicalId: id,
      trust: probe.roles.probe!.policies[0]!.policy,
      maxSession: Number(r.Properties.MaxSessionDuration ?? 3600),
    });
  }
  return out;
}

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );

/**
 * Whether a GitHub OIDC token (aud sts.amazonaws.com, subject `sub`) may assume a role with this
 * trust policy: an Allow for sts:AssumeRoleWithWebIdentity from GitHub's provider whose conditions all
 * hold (IAM: every key of every operator; a list is any-of). Operators not modelled are an error.
 */
function trusts(trust: Cfn, sub: string): boolean {
  const context: Record<string, string> = {
    'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
    'token.actions.githubusercontent.com:sub': sub,
  };
  return (trust.Statement as Cfn[]).some((s) => {
    if (s.Effect !== 'Allow') return false;
    const actions = [s.Action].flat();
    if (!actions.includes('sts:AssumeRoleWithWebIdentity')) return false;
    if (!String(s.Principal?.Federated ?? '').endsWith(':oidc-provider/token.actions.githubusercontent.com'))
      return false;
    return Object.entries<Record<string, string | string[]>>(s.Condition ?? {}).every(([op, keys]) =>
      Object.entries(keys).every(([key, want]) => {
        const have = context[key];
        if (have === undefined) return false;
        const values = [want].flat();
        if (op === 'StringEquals') return values.includes(have);
        if (op === 'StringLike') return values.some((v) => glob(v).test(have));
        throw new Error(`trust condition operator ${op} is not modelled by this test`);
      }),
    );
  });
}

const environmentOf = (job: Job) =>
  typeof job.environment === 'string' ? job.environment : job.environment?.name;

/** The events a job runs on: the workflow's triggers, narrowed by `github.event_name == '...'` in its if. */
function eventsOf(wf: Workflow, job: Job): string[] {
  const all = Object.keys(wf.on);
  const named = [...(job.if ?? '').matchAll(/github\.event_name\s*==\s*'([a-z_]+)'/g)].map((m) => m[1]!);
  return named.length ? all.filter((e) => named.includes(e)) : all;
}

/**
 * The OIDC subject GitHub gives a job: a job with an environment gets environment:<name>; a
 * pull_request run gets pull_request; anything else its ref (push to main, and schedule and
 * workflow_dispatch on the default branch).
 */
function subjectOf(job: Job, event: string): string {
  const env = environmentOf(job);
  if (env) return `repo:${REPO}:environment:${env}`;
  if (event === 'pull_request' || event === 'pull_request_target') return `repo:${REPO}:pull_request`;
  return `repo:${REPO}:ref:${DEFAULT_REF}`;
}

interface RoleUse {
  file: string;
  jobName: string;
  job: Job;
  wf: Workflow;
  role: string;
  durationSeconds: number;
  commands: string[];
}

const roleUses: RoleUse[] = examples.flatMap(({ file, wf }) =>
  Object.entries(wf.jobs).flatMap(([jobName, job]) => {
    const creds = job.steps.filter((s) => s.uses?.startsWith(CREDENTIALS));
    const commands = job.steps
      .filter((s) => s.uses?.startsWith(TRIPOD))
      .map((s) => String(s.with?.command ?? 'plan'));
    return creds.map((c) => {
      const arn = String(c.with?.['role-to-assume'] ?? '');
      const m = /^arn:aws:iam::\d{12}:role\/([\w+=,.@-]+)$/.exec(arn);
      if (!m) throw new Error(`${file} job ${jobName}: role-to-assume ${arn} is not a role ARN`);
      return {
        file,
        jobName,
        job,
        wf,
        role: m[1]!,
        durationSeconds: Number(c.with?.['role-duration-seconds'] ?? 3600),
        commands,
      };
    });
  }),
);

/** The environment the examples' apply job runs in: the account stack is deployed with it. */
const applyEnvironment = roleUses.map((u) => environmentOf(u.job)).find((e) => e !== undefined);
const roles = accountRoles({
  GitHubRepository: REPO,
  GitHubRef: DEFAULT_REF,
  ...(applyEnvironment ? { GitHubEnvironment: applyEnvironment } : {}),
});

describe('the roles the examples assume', () => {
  it('are the plan and the apply role of infra/tripod-setup.yaml, each used', () => {
    expect(new Set(roleUses.map((u) => u.role))).toEqual(new Set(['tripod-plan', 'tripod-apply']));
    for (const u of roleUses)
      expect(roles.has(u.role), `${u.file} job ${u.jobName}: infra/ makes no role ${u.role}`).toBe(true);
    expect(roles.get('tripod-plan')!.logicalId).toBe('PlanRole');
    expect(roles.get('tripod-apply')!.logicalId).toBe('ApplyRole');
  });

  for (const u of roleUses) {
    it(`${u.file} job ${u.jobName}: ${u.role} trusts the OIDC subject of every event the job runs on`, () => {
      const events = eventsOf(u.wf, u.job);
      expect(events.length).toBeGreaterThan(0);
      for (const e of events) {
        const sub = subjectOf(u.job, e);
        expect(trusts(roles.get(u.role)!.trust, sub), `${u.role} refuses ${sub} (${e})`).toBe(true);
      }
      const perms = u.job.permissions ?? u.wf.permissions ?? {};
      expect(perms['id-token'], 'an OIDC token needs id-token: write').toBe('write');
    });
  }

  it('plan runs on pull requests with the plan role (subject pull_request); the apply role never gets a pull request', () => {
    const onPr = roleUses.filter((u) => eventsOf(u.wf, u.job).includes('pull_request'));
    expect(onPr.length).toBeGreaterThan(0);
    for (const u of onPr) {
      expect(u.role, `${u.file} job ${u.jobName}`).toBe('tripod-plan');
      expect(u.commands.every((c) => !CHANGING.includes(c))).toBe(true);
    }
    expect(trusts(roles.get('tripod-plan')!.trust, `repo:${REPO}:pull_request`)).toBe(true);
    expect(trusts(roles.get('tripod-apply')!.trust, `repo:${REPO}:pull_request`)).toBe(false);
    expect(trusts(roles.get('tripod-apply')!.trust, `repo:${REPO}:ref:refs/heads/feature`)).toBe(false);
    expect(trusts(roles.get('tripod-plan')!.trust, 'repo:mallory/infra:pull_request')).toBe(false);
  });

  it('every changing command runs with the apply role, in a job that only the default branch or its environment starts', () => {
    const changing = roleUses.filter((u) => u.commands.some((c) => CHANGING.includes(c)));
    expect(changing.length).toBeGreaterThan(0);
    for (const u of changing) {
      expect(u.role, `${u.file} job ${u.jobName}`).toBe('tripod-apply');
      expect(eventsOf(u.wf, u.job)).not.toContain('pull_request');
    }
    // the examples' apply job runs in an environment: without GitHubEnvironment the role refuses it
    if (applyEnvironment) {
      const plain = accountRoles({ GitHubRepository: REPO, GitHubRef: DEFAULT_REF });
      expect(trusts(plain.get('tripod-apply')!.trust, `repo:${REPO}:environment:${applyEnvironment}`)).toBe(
        false,
      );
      const header = examples.find((x) => x.file.endsWith('tripod.yml'))!.text;
      expect(header, 'tripod.yml says how to deploy the account stack').toContain(
        `GitHubEnvironment=${applyEnvironment}`,
      );
    }
  });

  it("job timeouts fit in the role session, and the Action's own timeout ends first", () => {
    for (const u of roleUses) {
      const where = `${u.file} job ${u.jobName}`;
      const minutes = u.job['timeout-minutes'];
      expect(minutes, `${where} needs timeout-minutes`).toBeDefined();
      expect(
        u.durationSeconds,
        `${where}: role-duration-seconds above ${u.role}'s MaxSessionDuration`,
      ).toBeLessThanOrEqual(roles.get(u.role)!.maxSession);
      expect(
        minutes! * 60,
        `${where}: the job outlives its ${u.durationSeconds} s session`,
      ).toBeLessThanOrEqual(u.durationSeconds);
      for (const s of u.job.steps.filter((x) => x.uses?.startsWith(TRIPOD) && x.with?.['timeout-minutes']))
        expect(
          Number(s.with!['timeout-minutes']),
          `${where}: the step's timeout must end before the job's`,
        ).toBeLessThan(minutes!);
    }
  });
});

describe('concurrency, upgrades and forks', () => {
  const groups = examples.flatMap(({ file, wf }) => [
    ...(wf.concurrency
      ? [
          {
            where: `${file}`,
            group: typeof wf.concurrency === 'string' ? wf.concurrency : wf.concurrency.group,
          },
        ]
      : []),
    ...Object.entries(wf.jobs)
      .filter(([, j]) => j.concurrency)
      .map(([name, j]) => ({
        where: `${file} job ${name}`,
        group: typeof j.concurrency === 'string' ? j.concurrency : j.concurrency!.group,
        cancel: typeof j.concurrency === 'string' ? false : j.concurrency!['cancel-in-progress'] === true,
        commands: j.steps
          .filter((s) => s.uses?.startsWith(TRIPOD))
          .map((s) => String(s.with?.command ?? 'plan')),
      })),
  ]);

  it('each concurrency group is separate (a drift check never cancels a pending apply)', () => {
    const seen = new Map<string, string>();
    for (const g of groups) {
      expect(
        seen.get(g.group),
        `${g.where} shares group ${g.group} with ${seen.get(g.group)}`,
      ).toBeUndefined();
      seen.set(g.group, g.where);
    }
    const drift = groups.find((g) => g.where.startsWith(join(EXAMPLES, 'drift-check.yml')))!;
    const apply = groups.filter((g) => 'commands' in g && g.commands!.some((c) => CHANGING.includes(c)));
    expect(apply.length).toBeGreaterThan(0);
    for (const a of apply) {
      expect(a.group).not.toBe(drift.group);
      expect('cancel' in a && a.cancel, `${a.where}: an apply is never cancelled half-way`).toBe(false);
    }
  });

  it('every job that touches AWS or the repository has a timeout', () => {
    for (const { file, wf } of examples)
      for (const [name, job] of Object.entries(wf.jobs))
        expect(job['timeout-minutes'], `${file} job ${name}`).toBeGreaterThan(0);
  });

  it('upgrade.yml opens a pull request that bumps kubernetesVersion: no commit to main, no AWS role', () => {
    const up = examples.find((x) => x.file.endsWith('upgrade.yml'))!;
    expect(Object.keys(up.wf.on)).toEqual(['workflow_dispatch']);
    const steps = Object.values(up.wf.jobs).flatMap((j) => j.steps);
    expect(steps.some((s) => s.uses?.startsWith(CREDENTIALS) || s.uses?.startsWith(TRIPOD))).toBe(false);
    const script = steps.map((s) => s.run ?? '').join('\n');
    expect(script).toMatch(/s\/\^kubernetesVersion:/);
    expect(script).toContain('gh pr create');
    const pushes = script.split('\n').filter((l) => /\bgit push\b/.test(l));
    expect(pushes.length).toBeGreaterThan(0);
    for (const p of pushes) expect(p, 'pushes only its own branch').toMatch(/origin "\$branch"$/);
    expect(script).toMatch(/branch="tripod\/upgrade-kubernetes-/);
    // the merge applies and rolls: the apply job on main runs upgrade (apply, then roll)
    const main = roleUses.find((u) => u.commands.includes('upgrade'));
    expect(main && eventsOf(main.wf, main.job)).toEqual(['push']);
  });

  it('pull requests from forks are skipped with a notice; only the same repository plans', () => {
    const tr = examples.find((x) => x.file.endsWith('tripod.yml'))!;
    const plan = Object.values(tr.wf.jobs).find((j) =>
      j.steps.some((s) => s.uses?.startsWith(TRIPOD) && (s.with?.command ?? 'plan') === 'plan'),
    )!;
    expect(plan.if).toContain('github.event.pull_request.head.repo.full_name == github.repository');
    const skip = Object.values(tr.wf.jobs).find((j) =>
      j.if?.includes('github.event.pull_request.head.repo.full_name != github.repository'),
    );
    expect(skip, 'a job tells fork pull requests why there is no plan').toBeDefined();
    const notice = skip!.steps.map((s) => s.run ?? '').join('\n');
    expect(notice).toMatch(/::notice title=tripod plan skipped::/);
    expect(notice).toMatch(/no OIDC token/);
    expect(notice).not.toMatch(/id-token: write/);
  });

  it('the pull request plan is kept as an artifact and the apply job takes it as approved-plan', () => {
    const tr = examples.find((x) => x.file.endsWith('tripod.yml'))!;
    const steps = Object.values(tr.wf.jobs).flatMap((j) => j.steps);
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.with?.path).toBe(`\${{ steps.plan.outputs.plan-file }}`);
    const download = steps.find((s) => s.id === 'approved')!;
    expect(download.run).toContain(`gh run download`);
    expect(download.env?.ARTIFACT).toBe(upload.with?.name);
    const apply = steps.find((s) => s.uses?.startsWith(TRIPOD) && s.with?.['approved-plan'])!;
    expect(apply.with?.['approved-plan']).toBe(`\${{ steps.approved.outputs.file }}`);
    expect(apply.with?.['allow-plan-drift']).toBeUndefined();
  });
});

describe('pinned actions', () => {
  it('third-party actions are pinned by commit SHA with the release in a comment (tripod itself by its tag)', () => {
    for (const file of allWorkflowFiles) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const m = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
        if (!m || m[1]!.startsWith(TRIPOD) || m[1]!.startsWith('./')) return;
        expect(m[1], `${file}:${i + 1}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
        expect(m[2], `${file}:${i + 1}: the release it is`).toMatch(/#\s*v\d+\.\d+\.\d+/);
      });
    }
  });
});
