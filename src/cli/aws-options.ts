/** What the AWS commands share: the spec checked against --region, AWS clients, and AWS errors as user errors. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { type AwsClients, createAwsClients } from '../adapters/aws/clients.js';
import { AwsApiError } from '../adapters/aws/errors.js';
import { loadSpecFile } from '../cluster-spec/file.js';
import { formatProblem } from '../cluster-spec/load.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { ProvisionError } from '../provision/apply.js';
import { LimitError } from '../provision/limits.js';
import type { PlanOptions } from '../provision/plan.js';
import { reconcilerBundleFromZip } from '../provision/reconciler-bundle.js';
import { type OptionDef, UsageError, UserError, type Values } from './command.js';
import { awsMaxAttempts } from './env.js';

/** Options of the commands that provision (plan, apply): what to deploy and what the cluster was called. */
export const provisionOptions: OptionDef[] = [
  {
    flags: '--reconciler-zip <path>',
    description:
      'deploy this reconciler Lambda package instead of the shipped one (default: dist/lambdas/reconciler.zip, the bundle the Action deploys)',
  },
  {
    flags: '--previous-name <name>',
    description: "the cluster's name before this change: a different name is a rename (destructive)",
  },
];

/** Said once under every AWS command's options. */
export const AWS_CREDENTIALS_NOTE = `Credentials come from the usual AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO,
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
  const attempts = awsMaxAttempts();
  return createAwsClients({
    region,
    ...(typeof endpoint === 'string' ? { endpoint } : {}),
    ...(attempts !== undefined ? { maxAttempts: attempts } : {}),
  });
}

/** Opens a command's AWS clients for a region and `--endpoint-url`: `cliAwsClients`, unless `withAwsClients` says otherwise. */
export type AwsOpener = (region: string, endpoint: unknown) => AwsClients;

const opener = new AsyncLocalStorage<AwsOpener>();

/**
 * Runs `run` (e.g. the CLI's `main`) with every command's AWS clients opened by `open`: the IAM
 * contract (test/integration/iam-contract.test.ts) records the calls of `tripod status`, `kubeconfig`, `backups`
 * and `restore` as the admin role's. Scoped to `run`'s async calls; anything else uses `cliAwsClients`.
 */
export function withAwsClients<T>(open: AwsOpener, run: () => Promise<T>): Promise<T> {
  return opener.run(open, run);
}

/** The spec of `--spec` (or the argument), checked against `--region`: a region of its own would mismatch its zones. */
export function loadSpecForAws(values: Values): ClusterSpec {
  const file = String(values.spec ?? 'cluster.yaml');
  const spec = loadSpecOrFail(file);
  if (typeof values.region === 'string' && values.region !== spec.region) {
    throw new UsageError(
      `--region ${values.region} disagrees with ${file} (region: ${spec.region}); its zones belong to ${spec.region}`,
    );
  }
  return spec;
}

/** The spec (checked against --region) and AWS clients for its region and --endpoint-url. The caller destroys `aws`. */
export function openAws(values: Values): { spec: ClusterSpec; aws: AwsClients } {
  const spec = loadSpecForAws(values);
  const open = opener.getStore() ?? cliAwsClients;
  return { spec, aws: open(spec.region, values['endpoint-url']) };
}

export function openSession(values: Values): Session {
  const { spec, aws } = openAws(values);
  const desiredOptions: PlanOptions = {};
  if (typeof values['previous-name'] === 'string') desiredOptions.previousName = values['previous-name'];
  if (typeof values['reconciler-zip'] === 'string') {
    try {
      desiredOptions.reconcilerBundle = reconcilerBundleFromZip(
        new Uint8Array(readFileSync(values['reconciler-zip'])),
      );
    } catch (e) {
      aws.destroy();
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
