/** What `tripod plan`, `apply` and `destroy` share: the spec, AWS options, and AWS errors as user errors. */
import { readFileSync } from 'node:fs';
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import { AwsApiError } from '../adapters/aws/errors.js';
import { ProvisionError } from '../provision/apply.js';
import { LimitError } from '../provision/limits.js';
import type { PlanOptions } from '../provision/plan.js';
import { reconcilerBundleFromZip } from '../provision/reconciler-bundle.js';
import { loadSpecFile } from '../spec/file.js';
import { formatProblem } from '../spec/load.js';
import type { ClusterSpec } from '../spec/schema.js';
import { type Options, UsageError, UserError } from './command.js';

export const awsOptions: Options = {
  file: { type: 'string', short: 'f', default: 'cluster.yaml' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  format: { type: 'string', default: 'text' },
  'reconciler-zip': { type: 'string' },
  'previous-name': { type: 'string' },
};

export const awsOptionsHelp = `  -f, --file PATH          the spec (default: cluster.yaml)
      --region REGION      AWS region (must match the spec's region; default: the spec's)
      --endpoint-url URL   AWS endpoint, e.g. a local moto server (default: AWS, or AWS_ENDPOINT_URL)
      --format FORMAT      text (default), markdown or json
      --reconciler-zip P   deploy this reconciler Lambda package instead of the shipped one
                           (default: dist/lambdas/reconciler.zip, the bundle the Action deploys)
      --previous-name N    the cluster's name before this change: a different name is a rename (destructive)
  -h, --help               this help

Credentials come from the usual AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO,
an instance role). TRIPOD_AWS_MAX_ATTEMPTS sets the attempts per call (adaptive retry, default 5).`;

export interface Session {
  spec: ClusterSpec;
  aws: AwsClients;
  desiredOptions: PlanOptions;
}

/** The spec at `file`, or a UserError listing its problems at file:line. */
export function loadSpecOrFail(file: string): ClusterSpec {
  const loaded = loadSpecFile(file);
  if (!loaded.ok) throw new UserError(loaded.problems.map(formatProblem).join('\n'));
  return loaded.spec;
}

/** AWS clients for `region`: `endpoint` (e.g. a local moto server) and TRIPOD_AWS_MAX_ATTEMPTS when set. */
export function cliAwsClients(region: string, endpoint: unknown): AwsClients {
  const attempts = Number(process.env.TRIPOD_AWS_MAX_ATTEMPTS ?? '');
  return createAwsClients({
    region,
    ...(typeof endpoint === 'string' ? { endpoint } : {}),
    ...(Number.isInteger(attempts) && attempts > 0 ? { maxAttempts: attempts } : {}),
  });
}

export function openSession(values: Record<string, unknown>): Session {
  const file = String(values.file ?? 'cluster.yaml');
  const spec = loadSpecOrFail(file);
  if (typeof values.region === 'string' && values.region !== spec.region) {
    throw new UsageError(
      `--region ${values.region} disagrees with ${file} (region: ${spec.region}); its zones belong to ${spec.region}`,
    );
  }
  const aws = cliAwsClients(spec.region, values['endpoint-url']);
  const desiredOptions: PlanOptions = {};
  if (typeof values['previous-name'] === 'string') desiredOptions.previousName = values['previous-name'];
  if (typeof values['reconciler-zip'] === 'string') {
    try {
      desiredOptions.reconcilerBundle = reconcilerBundleFromZip(
        new Uint8Array(readFileSync(values['reconciler-zip'])),
      );
    } catch (e) {
      throw new UserError(`--reconciler-zip ${values['reconciler-zip']}: ${(e as Error).message}`);
    }
  }
  return { spec, aws, desiredOptions };
}

/** AWS and provisioning failures are the user's to fix: message only, exit 1. */
export async function asUserErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AwsApiError || e instanceof ProvisionError || e instanceof LimitError)
      throw new UserError(e.message);
    throw e;
  }
}
