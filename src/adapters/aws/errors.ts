/**
 * AWS errors -> messages that say what to do. Every client made by clients.ts rethrows failures as an
 * `AwsApiError`: the original error code (for `isNotFound` and friends), the IAM action
 * (`ec2:CreateVpc`), and a message a user can act on.
 */

export type AwsErrorKind =
  | 'access-denied'
  | 'throttled'
  | 'not-found'
  | 'unimplemented'
  | 'credentials'
  | 'already-exists'
  | 'limit'
  | 'other';

export class AwsApiError extends Error {
  override name = 'AwsApiError';
  constructor(
    message: string,
    /** The AWS error code, e.g. `InvalidVpcID.NotFound`, `AccessDenied`. */
    readonly code: string,
    readonly kind: AwsErrorKind,
    /** `ec2:CreateVpc`. */
    readonly action: string,
    readonly httpStatus: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedAccess',
  'AuthorizationError',
  'Forbidden',
]);
const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ThrottledException',
  'PriorRequestNotComplete',
  'SlowDown',
]);
const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'AuthFailure',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'InvalidSignatureException',
]);
const ALREADY_EXISTS = /AlreadyExists|Duplicate|ResourceConflict|ParameterAlreadyExists|ResourceInUse/;
const LIMIT = /LimitExceeded|TooMany(?!Requests)|QuotaExceeded/;

/** True when IAM refused the call (`AccessDenied` and its kin, or HTTP 403). */
export function isAccessDenied(e: unknown): boolean {
  // toAwsApiError's classification, the one place that says which errors are access denied.
  return toAwsApiError(e, '', '').kind === 'access-denied';
}

/** True for the "does not exist" family: `InvalidVpcID.NotFound`, `ResourceNotFoundException`, `ParameterNotFound`, ... */
export function isNotFound(e: unknown): boolean {
  const code = errorCode(e);
  return (
    /NotFound|NoSuch|DoesNotExist/.test(code) ||
    (e instanceof AwsApiError && e.kind === 'not-found') ||
    /does not exist|not found/i.test(String((e as Error)?.message ?? ''))
  );
}

export function errorCode(e: unknown): string {
  if (e instanceof AwsApiError) return e.code;
  const err = e as { name?: string; Code?: string; code?: string } | undefined;
  return String(err?.Code ?? err?.name ?? err?.code ?? 'Error');
}

/** The resource a call was about, from its input, for messages (`VpcId=vpc-123`). */
function describeResource(input: unknown): string {
  if (!input || typeof input !== 'object') return '';
  const keys = [
    'Name',
    'AutoScalingGroupName',
    'LaunchTemplateName',
    'LoadBalancerArn',
    'TargetGroupArn',
    'GroupId',
    'GroupName',
    'VpcId',
    'SubnetId',
    'FunctionName',
    'HostedZoneId',
    'Bucket',
    'Rule',
  ];
  const rec = input as Record<string, unknown>;
  const parts = keys.filter((k) => typeof rec[k] === 'string').map((k) => `${k}=${rec[k]}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** Turns any error from an SDK call into an AwsApiError with an actionable message. */
export function toAwsApiError(e: unknown, service: string, operation: string, input?: unknown): AwsApiError {
  if (e instanceof AwsApiError) return e;
  const err = (e ?? {}) as {
    name?: string;
    message?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number };
    $response?: { statusCode?: number; body?: unknown };
  };
  const code = errorCode(e);
  const status = err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
  const action = `${service}:${operation}`;
  const what = `${action}${describeResource(input)}`;
  const original = String(err.message ?? e).split('\n')[0]!;
  const body = typeof err.$response?.body === 'string' ? err.$response.body : '';

  let kind: AwsErrorKind = 'other';
  let message: string;
  if (ACCESS_DENIED.has(code) || status === 403) {
    kind = 'access-denied';
    message = `not allowed to call ${what}: add the IAM permission "${action}" to the role or user tripod runs as (AWS said: ${original})`;
  } else if (CREDENTIALS.has(code) || /Could not load credentials/i.test(original)) {
    kind = 'credentials';
    message = `no valid AWS credentials for ${action}: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (in GitHub Actions use aws-actions/configure-aws-credentials) (${original})`;
  } else if (THROTTLED.has(code) || status === 429) {
    kind = 'throttled';
    message = `AWS throttled ${what} even after retries: run again later, or raise the account's API rate limits (${original})`;
  } else if (
    // moto answers an action it lacks with an HTML page: 500, or 404 for a REST path it has no route for.
    (status === 500 || status === 404) &&
    (/<html|<!doctype/i.test(body) || /Deserialization error|parse error|<!doctype|<html/i.test(original))
  ) {
    kind = 'unimplemented';
    message = `the endpoint does not implement ${action} (it answered HTTP ${status} with an HTML page); an emulator such as moto lacks this call`;
  } else if (/NotFound|NoSuch|DoesNotExist/.test(code)) {
    kind = 'not-found';
    message = `${what}: not found (${code}: ${original})`;
  } else if (ALREADY_EXISTS.test(code)) {
    kind = 'already-exists';
    message = `${what}: already exists (${code}: ${original}); if tripod did not create it, remove or rename it`;
  } else if (LIMIT.test(code)) {
    kind = 'limit';
    message = `${what}: an AWS quota is reached (${code}: ${original}); raise it in Service Quotas or free some resources`;
  } else {
    message = `${what} failed: ${code}: ${original}`;
  }
  return new AwsApiError(message, code, kind, action, status, { cause: e });
}
