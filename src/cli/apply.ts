/** `tripod apply`: plan, then make the changes, printing progress as it goes. */
import { readFileSync } from 'node:fs';
import { applyPlan, checkApplicable } from '../provision/apply.js';
import { planCluster } from '../provision/plan.js';
import { renderPlan } from '../provision/plan-render.js';
import {
  approvedPlanCheck,
  parseSavedPlan,
  type SavedPlan,
  SavedPlanError,
  savePlan,
} from '../provision/saved-plan.js';
import { AWS_CREDENTIALS_NOTE, asUserErrors, openSession, provisionOptions } from './aws-options.js';
import { type CommandDef, choice, jsonDocument, UsageError, UserError } from './command.js';
import { awsCommandOptions, formatOption, specArgument } from './options.js';

export const applyCommand: CommandDef = {
  name: 'apply',
  summary: 'create or update the cluster in AWS to match the spec',
  description: `Plans (see tripod plan), prints the plan, then applies it in dependency order, waiting for NAT
gateways and load balancers to be ready. Apply is idempotent: run it again after an interruption
and it finishes the job. Destructive changes (deleting or replacing the master group, shrinking
the masters, dropping zones that hold more masters than the cluster can lose, renaming the
cluster when --previous-name says it had another name) are refused unless --allow-destructive
is given.

The reconciler function gets the Lambda package shipped with tripod (dist/lambdas/reconciler.zip),
the same one the GitHub Action deploys, so a plan from either is a no-op after an apply from the
other. --reconciler-zip deploys another package instead (e.g. a development build).
With --format json, stdout holds one JSON document (the plan and what was applied); the progress
goes to stderr.

--plan FILE applies only what was reviewed (like Terraform's saved plans): FILE is a plan saved by
tripod plan --out (or the Action's plan-file); apply plans again and refuses, showing the
difference, unless its plan has the same spec and the same changes (--allow-plan-drift applies
anyway, still showing it). A plan with nothing left to apply always passes.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    formatOption(),
    ...provisionOptions,
    { flags: '--allow-destructive', description: 'apply destructive changes too' },
    {
      flags: '--plan <file>',
      description: 'apply only if the plan is this reviewed one (tripod plan --out)',
    },
    { flags: '--allow-plan-drift', description: 'with --plan: apply even when the plans differ' },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 applied (or nothing to do), 1 refused or failed, 64 usage error.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'markdown', 'json'] as const, 'format');
    const allowDestructive = values['allow-destructive'] === true;
    const approvedFile = typeof values.plan === 'string' ? values.plan : undefined;
    const allowDrift = values['allow-plan-drift'] === true;
    if (allowDrift && !approvedFile) throw new UsageError('--allow-plan-drift is only used with --plan FILE');
    const approved = approvedFile ? readApproved(approvedFile) : undefined;
    const { spec, aws, desiredOptions } = openSession(values);
    try {
      return await asUserErrors(async () => {
        const state = await planCluster(aws, spec, desiredOptions);
        if (format !== 'json') io.out(renderPlan(state.plan, format));
        if (approved && approvedFile) {
          const verdict = approvedPlanCheck(approved, savePlan(spec, state), {
            allowDrift,
            file: approvedFile,
          });
          const difference = verdict.differences.length
            ? `\nDifference:\n${verdict.differences.join('\n')}`
            : '';
          if (!verdict.ok) throw new UserError(`${verdict.message}${difference}`);
          io.err(`${verdict.message}${difference}`);
        }
        if (!state.plan.hasChanges) {
          if (format === 'json') io.out(jsonDocument({ plan: state.plan, applied: 0 }));
          return 0;
        }
        checkApplicable(state.plan, allowDestructive);
        if (format !== 'json') io.out('');
        const started = Date.now();
        const result = await applyPlan(state, {
          allowDestructive,
          onProgress: (e) =>
            format === 'json' ? io.err(`[${e.group}] ${e.message}`) : io.out(`[${e.group}] ${e.message}`),
        });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (format === 'json')
          io.out(
            jsonDocument({ plan: state.plan, applied: result.applied.length, seconds: Number(seconds) }),
          );
        else
          io.out(
            `\nApplied ${result.applied.length} change(s) in ${seconds} s (${aws.counter.total} AWS API calls).`,
          );
        return 0;
      });
    } finally {
      aws.destroy();
    }
  },
};

/** The reviewed plan, read before anything else (a wrong file is refused naming it). */
function readApproved(file: string): SavedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(
      `--plan: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): make it with tripod plan --out ${file}`,
    );
  }
  try {
    return parseSavedPlan(text, file);
  } catch (e) {
    if (e instanceof SavedPlanError) throw new UserError(`--plan: ${e.message}`);
    throw e;
  }
}
