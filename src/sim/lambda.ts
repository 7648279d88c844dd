/**
 * The reconciler Lambda in the simulator: invoked by EventBridge (lifecycle and node events, and a
 * one-minute schedule), one invocation at a time (reserved concurrency 1: later triggers queue and
 * coalesce). An invocation can crash between two calls; the next trigger starts a fresh one. An
 * invocation that runs past the function's timeout (the product's own, lambdas/package.ts) is
 * stopped there, as Lambda does: whatever it had not done yet is not done.
 */
import { type Action, describeAction } from '../heal/actions.js';
import { RECONCILER_PACKAGE } from '../lambdas/package.js';
import type { Invocation, SimCloud } from './cloud.js';
import type { Reconciler } from './stub-reconciler.js';

export const SCHEDULE_MS = 60_000;
/** The reconciler function's timeout. */
export const TIMEOUT_MS = RECONCILER_PACKAGE.timeoutSeconds * 1000;

export class ReconcilerLambda {
  private running = false;
  private queued = false;
  /** Probability that an invocation crashes (set by the reconciler-crash fault), until `crashUntil`. */
  crashRate = 0;
  crashUntil = 0;
  /** The time the current invocation started (the invariants look at it). */
  passStartedAt = 0;
  private current: Invocation | undefined;
  readonly stats = { invocations: 0, crashes: 0, errors: 0, timeouts: 0 };
  lastError: string | undefined;

  constructor(
    private readonly cloud: SimCloud,
    private readonly reconcile: Reconciler,
  ) {
    const k = cloud.k;
    const tick = () => {
      this.trigger();
      k.after(SCHEDULE_MS, tick);
    };
    k.after(SCHEDULE_MS, tick);
    cloud.bus.onDeliver = () => this.trigger();
  }

  get busy(): boolean {
    return this.running;
  }

  trigger(): void {
    if (this.running) {
      this.queued = true;
      return;
    }
    this.start();
  }

  private start(): void {
    const k = this.cloud.k;
    this.running = true;
    this.queued = false;
    this.stats.invocations++;
    this.passStartedAt = k.now();
    const crashes = k.now() < this.crashUntil && k.rng.chance(this.crashRate);
    const inv: Invocation = {
      crashAfter: crashes ? k.rng.int(0, 3) : undefined,
      mutations: 0,
      dead: false,
      onCrash: (before) => {
        this.stats.crashes++;
        k.log('lambda', `reconciler crashed before ${before}`);
        k.abandon();
        this.finish();
      },
    };
    let timedOut = false;
    let stop: () => void = () => {};
    const pass = new Promise<unknown>((resolve, reject) => {
      stop = () => resolve(undefined);
      this.reconcile(this.cloud.ports(inv), this.cloud.config).then(resolve, reject);
    });
    k.after(TIMEOUT_MS, () => {
      if (inv.dead || this.current !== inv) return;
      // "Task timed out after 120.00 seconds": the process is frozen; its pending calls never finish.
      timedOut = true;
      inv.dead = true;
      this.stats.timeouts++;
      k.log('lambda', `reconciler timed out after ${TIMEOUT_MS / 1000} s`);
      stop();
    });
    this.current = inv;
    k.spawn(
      () => pass,
      (r) => {
        if (this.current === inv) this.current = undefined;
        if (timedOut) {
          this.finish();
          return;
        }
        if (inv.dead) return;
        if (r.ok) this.logDecisions(r.value);
        if (!r.ok) {
          this.stats.errors++;
          const msg = r.error instanceof Error ? `${r.error.name}: ${r.error.message}` : String(r.error);
          this.lastError = msg;
          k.log('lambda', `pass failed: ${msg}`);
        }
        this.finish();
      },
    );
  }

  /** What the pass decided and why, with each action's outcome (from reconcilePass's result). */
  private logDecisions(value: unknown): void {
    const results = (value as { results?: unknown } | undefined)?.results;
    if (!Array.isArray(results)) return;
    for (const r of results as Array<{ action: Action; outcome: string; reason?: string; error?: string }>) {
      if (!r?.action || r.action.kind === 'heartbeat-lifecycle') continue;
      const outcome = r.outcome === 'ok' ? 'ok' : `${r.outcome}: ${r.reason ?? r.error ?? ''}`;
      this.cloud.k.log('decided', `${describeAction(r.action)} -> ${outcome}`);
    }
  }

  private finish(): void {
    this.running = false;
    if (this.queued) {
      // Lambda picks the queued event up shortly after.
      this.cloud.k.after(100, () => this.trigger());
      this.queued = false;
    }
  }
}
