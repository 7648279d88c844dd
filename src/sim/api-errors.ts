/**
 * AWS API faults: throttling and 5xx errors, shaped like AWS SDK v3 service exceptions (`name`,
 * `$fault`, `$metadata.httpStatusCode`), so the executor sees what it would see from AWS.
 */
import type { Random } from './random.js';

export class SimAwsError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId: string };

  constructor(name: string, message: string, status: number, requestId: string) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

export class ApiFaults {
  private until = 0;
  private rate = 0;

  constructor(private readonly rng: Random) {}

  /** From now until `until`, a share `rate` of AWS calls fail (throttled or 5xx). */
  degrade(until: number, rate: number): void {
    this.until = Math.max(this.until, until);
    this.rate = rate;
  }

  active(now: number): boolean {
    return now < this.until;
  }

  /** Throws a throttling or server error for some calls while degraded. */
  check(now: number, service: string, operation: string): void {
    if (now >= this.until || !this.rng.chance(this.rate)) return;
    const requestId = this.rng.hex(8);
    if (this.rng.chance(0.7)) {
      throw new SimAwsError('ThrottlingException', `Rate exceeded (${service} ${operation})`, 400, requestId);
    }
    throw new SimAwsError(
      'InternalFailure',
      `We encountered an internal error. Please try again. (${service} ${operation})`,
      500,
      requestId,
    );
  }
}
