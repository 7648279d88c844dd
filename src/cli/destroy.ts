/** `tripod destroy`: remove everything carrying the cluster's tags, after confirming the cluster name. */
import { createInterface } from 'node:readline/promises';
import { destroy } from '../provision/apply.js';
import { planCluster } from '../provision/plan.js';
import { renderPlan } from '../provision/plan-render.js';
import { AWS_CREDENTIALS_NOTE, asUserErrors, openAws } from './aws-options.js';
import { type CommandDef, choice, jsonDocument, UsageError, UserError } from './command.js';
import { awsCommandOptions, formatOption, specArgument } from './options.js';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

export const destroyCommand: CommandDef = {
  name: 'destroy',
  summary: 'delete every AWS resource of the cluster (asks for its name)',
  usage: '[options] [spec] (--confirm NAME | --yes)',
  description: `Deletes everything that carries the cluster's tags (tripod:cluster=<name>, tripod:managed-by=tripod),
in reverse dependency order: event rules, the reconciler, parameters, DNS records, the groups and
their instances, load balancers, launch templates, security groups, and the network tripod made.
A VPC or subnets you brought (network.vpcId) are left alone. etcd backups in S3 are kept.

Asks for the cluster name on a terminal; otherwise pass --confirm NAME (or --yes).
With --format json, stdout holds one JSON document (the plan, then what was deleted); the progress
goes to stderr.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    formatOption(),
    { flags: '--confirm <name>', description: "the cluster's name, as confirmation" },
    { flags: '--yes', description: 'skip the confirmation' },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 destroyed (or nothing left), 1 failed or not confirmed, 64 usage error.`,
  async run(values, io) {
    const format = choice(values.format, ['text', 'markdown', 'json'] as const, 'format');
    const json = format === 'json';
    const { spec, aws } = openAws(values);
    try {
      return await asUserErrors(async () => {
        const preview = await planCluster(aws, spec, { destroy: true });
        if (!json) io.out(renderPlan(preview.plan, format));
        if (!preview.plan.hasChanges) {
          if (json) io.out(jsonDocument({ plan: preview.plan, destroyed: 0 }));
          return 0;
        }
        let confirmed = values.yes === true;
        if (!confirmed && typeof values.confirm === 'string') {
          if (values.confirm !== spec.name) {
            throw new UserError(
              `--confirm ${values.confirm} does not match the cluster name ${spec.name}: nothing was deleted`,
            );
          }
          confirmed = true;
        }
        if (!confirmed) {
          if (!process.stdin.isTTY) {
            throw new UsageError(
              `destroy deletes cluster ${spec.name}: pass --confirm ${spec.name} (or --yes)`,
            );
          }
          const answer = await ask(`Type the cluster name (${spec.name}) to destroy it: `);
          if (answer !== spec.name) throw new UserError('the name does not match: nothing was deleted');
        }
        const started = Date.now();
        // JSON: stdout holds only the document; progress goes to stderr.
        const progress = json ? io.err : io.out;
        const result = await destroy(aws, spec, {
          shown: preview,
          onProgress: (e) => progress(`[${e.group}] ${e.message}`),
        });
        const seconds = Number(((Date.now() - started) / 1000).toFixed(1));
        if (json) io.out(jsonDocument({ plan: preview.plan, destroyed: result.applied.length, seconds }));
        else
          io.out(
            `\nDestroyed cluster ${spec.name}: ${result.applied.length} resource(s) deleted in ${seconds.toFixed(1)} s.`,
          );
        return 0;
      });
    } finally {
      aws.destroy();
    }
  },
};
