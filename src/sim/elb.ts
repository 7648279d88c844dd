/**
 * An NLB target group: registrations, and target health derived from the node behind each target
 * (initial while the first health checks run, healthy when the node's API server answers,
 * draining for the deregistration delay after a deregister).
 */
import type { TargetHealthState } from '../heal/observed.js';
import type { Kernel } from './kernel.js';

interface Registration {
  instanceId: string;
  registeredAt: number;
  drainingUntil?: number;
}

export class TargetGroup {
  private readonly targets = new Map<string, Registration>();

  constructor(
    private readonly k: Kernel,
    readonly arn: string,
    /** Is the node's API server answering health checks? */
    private readonly nodeHealthy: (instanceId: string) => boolean,
    private readonly instanceGone: (instanceId: string) => boolean,
    readonly healthCheckMs = 20_000,
    readonly deregistrationDelayMs = 60_000,
  ) {}

  register(instanceId: string): void {
    const r = this.targets.get(instanceId);
    if (r && r.drainingUntil === undefined) return;
    this.targets.set(instanceId, { instanceId, registeredAt: this.k.now() });
    this.k.log('elb', `register ${instanceId}`);
  }

  deregister(instanceId: string): void {
    const r = this.targets.get(instanceId);
    if (!r || r.drainingUntil !== undefined) return;
    r.drainingUntil = this.k.now() + this.deregistrationDelayMs;
    this.k.log('elb', `deregister ${instanceId} (draining)`);
  }

  private sweep(): void {
    const now = this.k.now();
    for (const [id, r] of this.targets)
      if (r.drainingUntil !== undefined && now >= r.drainingUntil) this.targets.delete(id);
  }

  describe(): Array<{ instanceId: string; health: TargetHealthState }> {
    this.sweep();
    const now = this.k.now();
    return [...this.targets.values()].map((r) => ({ instanceId: r.instanceId, health: this.health(r, now) }));
  }

  private health(r: Registration, now: number): TargetHealthState {
    if (r.drainingUntil !== undefined) return 'draining';
    if (this.instanceGone(r.instanceId)) return 'unused';
    if (now - r.registeredAt < this.healthCheckMs) return 'initial';
    return this.nodeHealthy(r.instanceId) ? 'healthy' : 'unhealthy';
  }

  /** Instances registered and not draining. */
  registered(): string[] {
    this.sweep();
    return [...this.targets.values()].filter((r) => r.drainingUntil === undefined).map((r) => r.instanceId);
  }
}
