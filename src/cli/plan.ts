/** `tripod plan`: what apply would change, as text, Markdown or JSON. */

import { writeFileSync } from 'node:fs';
import { planCluster } from '../provision/plan.js';
import { renderPlan } from '../provision/plan-render.js';
import { savedPlanText, savePlan } from '../provision/saved-plan.js';
import { AWS_CREDENTIALS_NOTE, asUserErrors, openSession, provisionOptions } from './aws-options.js';
import { type CommandDef, choice, EXIT, jsonDocument } from './command.js';
import { awsCommandOptions, formatOption, specArgument } from './options.js';

export const planCommand: CommandDef = {
  name: 'plan',
  summary: 'show what apply would create, change or delete in AWS',
  description: `Reads the cluster's AWS resources (by their tripod:cluster tag) and lists the creates, updates
(field by field), replacements and deletes apply would make, in the order it would make them.
Destructive changes and resources in the way are flagged.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    formatOption(),
    ...provisionOptions,
    {
      flags: '--detailed-exitcode',
      description: 'exit 0 when nothing changes, 2 when something does (1 on errors)',
    },
    {
      flags: '--out <file>',
      description:
        'also save the plan there (JSON: the changes, a hash of the spec and of what was read) for tripod apply --plan',
    },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 success (or no changes with --detailed-exitcode), 1 error, 2 changes (only with
--detailed-exitcode), 64 usage error.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'markdown', 'json'] as const, 'format');
    const { spec, aws, desiredOptions } = openSession(values);
    try {
      const state = await asUserErrors(() => planCluster(aws, spec, desiredOptions));
      const { plan } = state;
      io.out(format === 'json' ? jsonDocument(plan) : renderPlan(plan, format));
      if (typeof values.out === 'string') {
        const saved = savePlan(spec, state, { commit: process.env.GITHUB_SHA });
        writeFileSync(values.out, savedPlanText(saved));
        io.err(
          `Saved plan: ${values.out} (spec ${saved.specHash}); apply it with tripod apply --plan ${values.out}`,
        );
      }
      return values['detailed-exitcode'] && plan.hasChanges ? EXIT.changes : EXIT.ok;
    } finally {
      aws.destroy();
    }
  },
};
