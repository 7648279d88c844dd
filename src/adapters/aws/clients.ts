/**
 * One factory for every AWS SDK v3 client tripod uses. All of them share: the region, an endpoint
 * (explicit, or `AWS_ENDPOINT_URL`, e.g. a local moto server), adaptive retry with a configurable
 * attempt count (1 against moto in tests), a call counter (benchmarks, the "no-op plan in at most 25
 * calls" goal) and error translation: every failed call is rethrown as an `AwsApiError` whose message
 * says what to do (see errors.ts).
 *
 * Clients are created lazily, on first use.
 */
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { toAwsApiError } from './errors.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface AwsClientOptions {
  region: string;
  /** e.g. http://127.0.0.1:5000 for moto. Default: `AWS_ENDPOINT_URL` when set, else AWS itself. */
  endpoint?: string;
  /** Attempts per call including the first (adaptive retry). Default 5; use 1 against moto. */
  maxAttempts?: number;
  /** Explicit credentials. Default: the SDK's chain (env, profile, SSO, instance role), see `localCredentials`. */
  credentials?: AwsCredentials;
  /** Counts calls; pass one to share a counter between factories. */
  counter?: ApiCallCounter;
  /** Runs around every call (tests record the calls for the IAM contract, test/support/iam.ts). Default: none. */
  around?: AwsCallHook;
}

/** One SDK call as the hook sees it: IAM service prefix, operation (`CreateVpc`) and the command's input. */
export interface AwsCall {
  service: string;
  operation: string;
  input: unknown;
}

/** Must call `proceed` once (it returns the call's output) and may look at the world before and after. */
export type AwsCallHook = (call: AwsCall, proceed: () => Promise<unknown>) => Promise<void>;

/** Counts API calls per service and operation (one per logical call; `attempts` counts HTTP requests, retries included). */
export class ApiCallCounter {
  readonly calls = new Map<string, number>();
  readonly attempts = new Map<string, number>();

  record(service: string, operation: string): void {
    const key = `${service}:${operation}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  recordAttempt(service: string, operation: string): void {
    const key = `${service}:${operation}`;
    this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
  }

  get total(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /** Calls per service prefix (ec2, autoscaling, ...). */
  byService(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.calls) {
      const service = k.split(':')[0]!;
      out[service] = (out[service] ?? 0) + v;
    }
    return out;
  }

  /** `service:Operation` -> calls, sorted by key. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.calls].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.calls.clear();
    this.attempts.clear();
  }
}

/** SDK client name -> IAM service prefix (also used in messages: `ec2:CreateVpc`). */
export const IAM_PREFIX: Record<string, string> = {
  EC2Client: 'ec2',
  AutoScalingClient: 'autoscaling',
  ElasticLoadBalancingV2Client: 'elasticloadbalancing',
  Route53Client: 'route53',
  SSMClient: 'ssm',
  EventBridgeClient: 'events',
  LambdaClient: 'lambda',
  S3Client: 's3',
  STSClient: 'sts',
};

interface MiddlewareClient {
  middlewareStack: {
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's middleware types differ per client package version
    add(middleware: any, options: any): void;
  };
}

/** Adds the counting and error-translating middleware to a client. */
export function instrument<C extends MiddlewareClient>(
  client: C,
  counter: ApiCallCounter,
  around?: AwsCallHook,
): C {
  client.middlewareStack.add(
    // biome-ignore lint/suspicious/noExplicitAny: see MiddlewareClient
    (next: any, context: any) => async (args: any) => {
      const service = IAM_PREFIX[context.clientName as string] ?? String(context.clientName);
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      counter.record(service, operation);
      try {
        if (!around) return await next(args);
        // biome-ignore lint/suspicious/noExplicitAny: the middleware's result ({output, response})
        let result: any;
        let done = false;
        const proceed = async () => {
          result = await next(args);
          done = true;
          return result.output;
        };
        await around({ service, operation, input: args?.input }, proceed);
        if (!done) await proceed();
        return result;
      } catch (e) {
        throw toAwsApiError(e, service, operation, args?.input);
      }
    },
    { step: 'initialize', name: 'tripodCountAndExplain', priority: 'high' },
  );
  client.middlewareStack.add(
    // biome-ignore lint/suspicious/noExplicitAny: see MiddlewareClient
    (next: any, context: any) => async (args: any) => {
      const service = IAM_PREFIX[context.clientName as string] ?? String(context.clientName);
      counter.recordAttempt(service, String(context.commandName ?? '').replace(/Command$/, ''));
      return next(args);
    },
    { step: 'deserialize', name: 'tripodCountAttempts' },
  );
  return client;
}

/** The endpoint to use: the explicit one, else `AWS_ENDPOINT_URL`, else none (AWS). */
export function resolveEndpoint(explicit?: string): string | undefined {
  const e = explicit ?? process.env.AWS_ENDPOINT_URL;
  return e && e.length > 0 ? e : undefined;
}

/**
 * Against a custom endpoint (moto, a local emulator) with no credentials configured, use dummy ones:
 * the emulator accepts any, and the SDK's chain would otherwise probe the instance metadata service.
 */
export function localCredentials(endpoint: string | undefined): AwsCredentials | undefined {
  if (!endpoint) return undefined;
  const env = process.env;
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) return undefined;
  return { accessKeyId: 'tripod-local', secretAccessKey: 'tripod-local' };
}

export interface AwsClients {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly counter: ApiCallCounter;
  readonly ec2: EC2Client;
  readonly autoScaling: AutoScalingClient;
  readonly elbv2: ElasticLoadBalancingV2Client;
  readonly route53: Route53Client;
  readonly ssm: SSMClient;
  readonly eventBridge: EventBridgeClient;
  readonly lambda: LambdaClient;
  readonly s3: S3Client;
  readonly sts: STSClient;
  /** Closes every client created so far (sockets). */
  destroy(): void;
}

export function createAwsClients(options: AwsClientOptions): AwsClients {
  const endpoint = resolveEndpoint(options.endpoint);
  const counter = options.counter ?? new ApiCallCounter();
  const credentials = options.credentials ?? localCredentials(endpoint);
  const base = {
    region: options.region,
    maxAttempts: options.maxAttempts ?? 5,
    retryMode: 'adaptive',
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : {}),
  };
  const made: Array<{ destroy(): void }> = [];
  const lazy = <T extends MiddlewareClient & { destroy(): void }>(make: () => T): (() => T) => {
    let c: T | undefined;
    return () => {
      if (!c) {
        c = instrument(make(), counter, options.around);
        made.push(c);
      }
      return c;
    };
  };
  const ec2 = lazy(() => new EC2Client(base));
  const autoScaling = lazy(() => new AutoScalingClient(base));
  const elbv2 = lazy(() => new ElasticLoadBalancingV2Client(base));
  // Route 53 is global: its endpoint lives in us-east-1 whatever the cluster's region.
  const route53 = lazy(() => new Route53Client({ ...base, region: 'us-east-1' }));
  const ssm = lazy(() => new SSMClient(base));
  const eventBridge = lazy(() => new EventBridgeClient(base));
  const lambda = lazy(() => new LambdaClient(base));
  // Emulators serve buckets by path, not by virtual host.
  const s3 = lazy(() => new S3Client({ ...base, forcePathStyle: endpoint !== undefined }));
  const sts = lazy(() => new STSClient(base));
  return {
    region: options.region,
    endpoint,
    counter,
    get ec2() {
      return ec2();
    },
    get autoScaling() {
      return autoScaling();
    },
    get elbv2() {
      return elbv2();
    },
    get route53() {
      return route53();
    },
    get ssm() {
      return ssm();
    },
    get eventBridge() {
      return eventBridge();
    },
    get lambda() {
      return lambda();
    },
    get s3() {
      return s3();
    },
    get sts() {
      return sts();
    },
    destroy() {
      for (const c of made) c.destroy();
    },
  };
}
