/**
 * The bundle's stand-in for `@aws-sdk/credential-provider-node` (the SDK's default credential chain),
 * swapped in by scripts/lambda-bundle.mjs. Lambda hands its execution role's credentials to the
 * function in the environment, so the rest of the chain (INI files, SSO, web identity, the instance
 * metadata service: ~90 KB minified with their nested STS/SSO clients) is dead weight there.
 */
export interface EnvCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const defaultProvider = (_init?: unknown) => async (): Promise<EnvCredentials> => {
  const env = process.env;
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) {
    throw Object.assign(
      new Error('no AWS credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)'),
      { name: 'CredentialsProviderError' },
    );
  }
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
};
