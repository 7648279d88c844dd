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
 * inputs; it tells the user how to give the job credentials through OIDC.
 */
export function noCredentialsMessage(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const oidcMissing = env.GITHUB_ACTIONS === 'true' && !env.ACTIONS_ID_TOKEN_REQUEST_URL;
  return [
    `${NO_CREDENTIALS} tripod uses only the default AWS credential chain (environment variables, web identity, profile); it never takes keys as inputs.`,
    "Fix: add this step before tripod, with a role that trusts GitHub's OIDC provider:",
    '',
    '    - uses: aws-actions/configure-aws-credentials@v4',
    '      with:',
    '        role-to-assume: arn:aws:iam::<account-id>:role/<tripod-deploy-role>',
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

/** True when an error (from the credential chain or an AWS call) means "no credentials at all". */
export function isMissingCredentials(e: unknown): boolean {
  const err = e as { name?: string; kind?: string; message?: string; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.name === 'CredentialsProviderError') return true;
  if (/Could not load credentials from any providers/i.test(String(err.message ?? ''))) return true;
  return err.cause !== undefined && err.cause !== e && isMissingCredentials(err.cause);
}
