/** `tripod plan`: what apply would change, as text, Markdown or JSON. */
import { planCluster } from '../provision/plan.js';
import { renderPlan } from '../provision/plan-render.js';
import { asUserErrors, awsOptions, awsOptionsHelp, openSession } from './aws-options.js';
import { type Command, choice } from './command.js';

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what apply would create, change or delete in AWS',
  help: `Usage: tripod plan [-f cluster.yaml] [--region R] [--endpoint-url URL] [--format text|markdown|json] [--detailed-exitcode]

Reads the cluster's AWS resources (by their tripod:cluster tag) and lists the creates, updates
(field by field), replacements and deletes apply would make, in the order it would make them.
Destructive changes and resources in the way are flagged.

Options:
${awsOptionsHelp}
      --detailed-exitcode  exit 0 when nothing changes, 2 when something does (1 on errors)

Exit codes: 0 success (or no changes with --detailed-exitcode), 1 error, 2 changes (with
--detailed-exitcode) or usage error.`,
  options: { ...awsOptions, 'detailed-exitcode': { type: 'boolean', default: false } },
  async run(values, _positionals, io) {
    const format = choice(values.format, ['text', 'markdown', 'json'] as const, 'format');
    const { spec, aws, desiredOptions } = openSession(values);
    try {
      const { plan } = await asUserErrors(() => planCluster(aws, spec, desiredOptions));
      io.out(renderPlan(plan, format));
      return values['detailed-exitcode'] && plan.hasChanges ? 2 : 0;
    } finally {
      aws.destroy();
    }
  },
};
