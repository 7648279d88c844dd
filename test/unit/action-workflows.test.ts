/** The example workflows and action.yml agree: every input a tripod step passes exists, apply is never cancelled. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../src/action/inputs.js';
import { OUTPUTS } from '../../src/action/runner.js';

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}
interface Job {
  steps: Step[];
  concurrency?: { group: string; 'cancel-in-progress': boolean };
}

const action = parse(readFileSync('action.yml', 'utf8')) as {
  inputs: Record<string, { default?: string }>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string };
};
const dir = 'examples/workflows';
const workflows = readdirSync(dir)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({ file: f, wf: parse(readFileSync(join(dir, f), 'utf8')) as { jobs: Record<string, Job> } }));

describe('action.yml', () => {
  it('runs the bundle on node24 and declares the documented inputs and outputs', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/action/index.js' });
    expect(Object.keys(action.inputs).sort()).toEqual(
      [
        'abort',
        'allow-destructive',
        'aws-region',
        'command',
        'comment-on-pr',
        'confirm-destroy',
        'github-token',
        'spec',
        'timeout-minutes',
        'plan-file',
        'approved-plan',
        'allow-plan-drift',
      ].sort(),
    );
    expect(Object.keys(action.outputs).sort()).toEqual(
      [
        'api-endpoint',
        'changes-count',
        'cluster-name',
        'has-changes',
        'plan-json',
        'service-endpoint',
        'plan-file',
        'spec-hash',
        'observed-hash',
      ].sort(),
    );
    expect(action.inputs['github-token']!.default).toBe(`\${{ github.token }}`);
  });

  it('every output is one the Action sets (runner.ts OUTPUTS)', () => {
    expect(Object.keys(action.outputs).sort()).toEqual([...OUTPUTS].sort());
  });
});

describe('example workflows', () => {
  it('there are the three documented ones', () => {
    expect(workflows.map((w) => w.file).sort()).toEqual(['drift-check.yml', 'tripod.yml', 'upgrade.yml']);
  });

  for (const { file, wf } of workflows) {
    it(`${file}: tripod steps use known inputs and commands; changing jobs are never cancelled`, () => {
      for (const [name, job] of Object.entries(wf.jobs)) {
        const tripodSteps = job.steps.filter((s) => s.uses?.startsWith('tripod-dev/tripod@'));
        for (const s of tripodSteps) {
          for (const key of Object.keys(s.with ?? {}))
            expect(action.inputs, `${file} ${name}`).toHaveProperty([key]);
          const command = String(s.with?.command ?? 'plan');
          expect(COMMANDS).toContain(command);
          if (['apply', 'upgrade', 'destroy'].includes(command)) {
            expect(job.concurrency, `${file} job ${name} needs a concurrency group`).toBeDefined();
            expect(job.concurrency!['cancel-in-progress']).toBe(false);
          }
        }
      }
    });
  }
});

describe('docs/action.md', () => {
  it('documents every input and output of action.yml', () => {
    const section = readFileSync('docs/action.md', 'utf8');
    for (const name of [...Object.keys(action.inputs), ...Object.keys(action.outputs)])
      expect(section, name).toContain(`| \`${name}\` |`);
  });
});
