/**
 * Errors the action reports as one clear message (no stack): bad inputs, a bad spec, missing AWS
 * credentials, refused commands. Anything else is a bug and keeps its stack in the debug log.
 */

/** Something the user can fix; the message says how. */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** The first line of the missing-credentials message, exactly (tests and docs quote it). */
export const NO_CREDENTIALS = 'No AWS credentials found.';

/**
 * The message for "the default AWS credential chain found nothing". tripod never takes keys as
 * inputs; it tells the user how to give the job credentials through OIDC. A pull request from a fork
 * gets no OIDC token whatever its permissions say (GitHub's rule for forks), so there the message
 * says that instead of blaming `id-token: write`.
 */
export function noCredentialsMessage(
  region: string,
  env: NodeJS.ProcessEnv = process.env,
  forkRepository?: string,
): string {
  if (forkRepository) return forkPullRequestMessage(forkRepository);
  const oidcMissing = env.GITHUB_ACTIONS === 'true' && !env.ACTIONS_ID_TOKEN_REQUEST_URL;
  return [
    `${NO_CREDENTIALS} tripod uses only the default AWS credential chain (environment variables, web identity, profile); it never takes keys as inputs.`,
    "Fix: add this step before tripod, with a role that trusts GitHub's OIDC provider (infra/tripod-setup.yaml makes tripod-plan and tripod-apply):",
    '',
    '    - uses: aws-actions/configure-aws-credentials@v4',
    '      with:',
    '        role-to-assume: arn:aws:iam::<account-id>:role/tripod-plan   # tripod-apply for apply, upgrade, destroy',
    `        aws-region: ${region}`,
    '',
    'and give the job an OIDC token:',
    '',
    '    permissions:',
    '      id-token: write',
    '      contents: read',
    '      pull-requests: write',
    ...(oidcMissing
      ? ['', 'This job has no OIDC token right now: its permissions lack `id-token: write`.']
      : []),
  ].join('\n');
}

/** Why a pull request from a fork cannot plan, and what to do (the example workflow skips them). */
export function forkPullRequestMessage(forkRepository: string): string {
  return [
    `${NO_CREDENTIALS} This run is a pull request from the fork ${forkRepository}: GitHub gives such runs no OIDC token (whatever the workflow's id-token permission says) and no secrets, so no AWS role can be assumed. This is not a missing \`id-token: write\`.`,
    'Skip the plan for forks (examples/workflows/tripod.yml does: `if: github.event.pull_request.head.repo.full_name == github.repository`),',
    "or push the branch to this repository and open the pull request from there; a maintainer's review then gets a plan.",
  ].join('\n');
}

/** True when an error (from the credential chain or an AWS call) means "no credentials at all". */
export function isMissingCredentials(e: unknown): boolean {
  const err = e as { name?: string; kind?: string; message?: string; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.name === 'CredentialsProviderError') return true;
  if (/Could not load credentials from any providers/i.test(String(err.message ?? ''))) return true;
  return err.cause !== undefined && err.cause !== e && isMissingCredentials(err.cause);
}
