/** `tripod apply`: plan, then make the changes, printing progress as it goes. */
import { applyPlan, checkApplicable } from '../provision/apply.js';
import { planCluster } from '../provision/plan.js';
import { renderPlan } from '../provision/plan-render.js';
import { AWS_CREDENTIALS_NOTE, asUserErrors, openSession, provisionOptions } from './aws-options.js';
import { type CommandDef, choice, jsonDocument } from './command.js';
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
goes to stderr.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    formatOption(),
    ...provisionOptions,
    { flags: '--allow-destructive', description: 'apply destructive changes too' },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 applied (or nothing to do), 1 refused or failed, 64 usage error.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'markdown', 'json'] as const, 'format');
    const allowDestructive = values['allow-destructive'] === true;
    const { spec, aws, desiredOptions } = openSession(values);
    try {
      return await asUserErrors(async () => {
        const state = await planCluster(aws, spec, desiredOptions);
        if (format !== 'json') io.out(renderPlan(state.plan, format));
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
