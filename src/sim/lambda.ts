/**
 * The reconciler Lambda in the simulator, as the provisioner deploys it (contract/reconciler-package.ts):
 * reserved concurrency 1, a 120 s timeout, asynchronous events kept at most `maximumEventAgeSeconds`
 * and retried `maximumRetryAttempts` times after a function error. Two kinds of invocation share
 * the one slot, as in AWS:
 *  - a pass: EventBridge's lifecycle and node events and the one-minute schedule. A trigger while a
 *    pass is already queued adds nothing (level-triggered: the queued pass sees at least as much);
 *  - a snapshot invocation: the pass's backup port only requests one (the Invoke API, through the
 *    same code as the Lambda's, heal/backups.ts) and goes on; the request queues like any async
 *    event, and the invocation streams the snapshot (cloud.snapshotStore) under the same timeout.
 * Queued events run in arrival order once the slot is free; an event older than the maximum age is
 * dropped. An invocation can crash between two calls; one that runs past the timeout is stopped
 * there, as Lambda does ("Task timed out"): whatever it had not done yet is not done. A pass gets the
 * invocation's remaining time from the simulated clock (Lambda's getRemainingTimeInMillis).
 *
 * A pass does what the Lambda handler does (lambdas/reconciler-handler.ts), in its order: the master
 * pass (skipped when the event is a worker group lifecycle event), then settling the worker group's
 * lifecycle hooks (heal/worker-hooks.ts, over the simulator's WorkerHookPort), then, after a
 * scheduled pass, a snapshot request when one is due. Coalesced events run the master pass when any
 * of them asks for it.
 */

import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import { type Action, describeAction } from '../heal/actions.js';
import { requestSnapshot, scheduledSnapshot, takeSnapshot } from '../heal/backups.js';
import type { SnapshotRequestDetail } from '../heal/events.js';
import { settleWorkerHooks } from '../heal/worker-hooks.js';
import type { Invocation, SimCloud } from './cloud.js';
import type { BusEvent } from './eventbridge.js';
import type { Reconciler } from './stub-reconciler.js';

export const SCHEDULE_MS = 60_000;
/** The reconciler function's timeout. */
export const TIMEOUT_MS = RECONCILER_PACKAGE.timeoutSeconds * 1000;
/** Lambda drops an asynchronous event older than this (the function's event invoke configuration). */
export const MAX_EVENT_AGE_MS = RECONCILER_PACKAGE.eventInvoke.maximumEventAgeSeconds * 1000;
/** Lambda retries an asynchronous event whose invocation failed (or timed out) this many times. */
export const MAX_RETRIES = RECONCILER_PACKAGE.eventInvoke.maximumRetryAttempts;
/** Lambda's delay before the first retry of a failed asynchronous invocation. */
const RETRY_DELAY_MS = 60_000;

/** Each cloud's reconciler function: the invariant checker asks it when the running pass started. */
const lambdas = new WeakMap<SimCloud, ReconcilerLambda>();

type QueuedEvent =
  | { kind: 'pass'; at: number; scheduled: boolean; workersOnly: boolean }
  | { kind: 'snapshot'; at: number; detail: SnapshotRequestDetail; attempt: number };

export class ReconcilerLambda {
  private running = false;
  /** Asynchronous events waiting for the slot (reserved concurrency 1), oldest first. */
  private readonly queue: QueuedEvent[] = [];
  /** Probability that an invocation crashes (set by the reconciler-crash fault), until `crashUntil`. */
  crashRate = 0;
  crashUntil = 0;
  /** The time the current (or last) invocation started (see `passRunningSince`). */
  passStartedAt = 0;
  private current: Invocation | undefined;
  readonly stats = {
    invocations: 0,
    crashes: 0,
    errors: 0,
    timeouts: 0,
    snapshots: 0,
    dropped: 0,
    /** Worker lifecycle actions the reconciler completed (heal/worker-hooks.ts), by hook. */
    workerLaunchesContinued: 0,
    workerTerminationsContinued: 0,
  };
  lastError: string | undefined;

  constructor(
    private readonly cloud: SimCloud,
    private readonly reconcile: Reconciler,
  ) {
    lambdas.set(cloud, this);
    const k = cloud.k;
    const tick = () => {
      this.trigger(true);
      k.after(SCHEDULE_MS, tick);
    };
    k.after(SCHEDULE_MS, tick);
    cloud.bus.onDeliver = (e) => this.trigger(false, this.workerLifecycleEvent(e));
  }

  /** A lifecycle action event of the worker group (the handler then settles the worker hooks only). */
  private workerLifecycleEvent(e: BusEvent): boolean {
    return (
      e.source === 'aws.autoscaling' &&
      e.detailType.endsWith('Lifecycle Action') &&
      this.cloud.ec2.get(e.instanceId)?.groupName === this.cloud.config.workerGroupName
    );
  }

  get busy(): boolean {
    return this.running;
  }

  /** The reconciler function of this cloud, if one was made for it. */
  static of(cloud: SimCloud): ReconcilerLambda | undefined {
    return lambdas.get(cloud);
  }

  /**
   * When the invocation running now started (undefined: none runs). A membership request comes
   * from the running pass, which observed the world at some time after this.
   */
  get passRunningSince(): number | undefined {
    return this.running ? this.passStartedAt : undefined;
  }

  /**
   * An event for a pass (EventBridge, or the schedule: that pass also requests a scheduled snapshot
   * when one is due). `workersOnly`: a worker group lifecycle event, which skips the master pass.
   */
  trigger(scheduled = false, workersOnly = false): void {
    const now = this.cloud.k.now();
    const queued = this.queue.find((e) => e.kind === 'pass');
    if (queued?.kind === 'pass') {
      queued.at = now;
      queued.scheduled ||= scheduled;
      queued.workersOnly &&= workersOnly;
    } else this.queue.push({ kind: 'pass', at: now, scheduled, workersOnly });
    this.next();
  }

  /** The Invoke API (InvocationType Event): a snapshot invocation joins the queue. */
  requestSnapshot(detail: SnapshotRequestDetail, attempt = 0, at = this.cloud.k.now()): void {
    this.queue.push({ kind: 'snapshot', at, detail, attempt });
    this.next();
  }

  /** Starts the oldest queued event that is not too old, when the slot is free. */
  private next(): void {
    if (this.running) return;
    const k = this.cloud.k;
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
      if (k.now() - e.at > MAX_EVENT_AGE_MS) {
        this.stats.dropped++;
        k.log('lambda', `${e.kind} event dropped: older than ${MAX_EVENT_AGE_MS / 1000} s`);
        continue;
      }
      this.start(e);
      return;
    }
  }

  private start(e: QueuedEvent): void {
    const k = this.cloud.k;
    this.running = true;
    this.stats.invocations++;
    const started = k.now();
    this.passStartedAt = started;
    const crashes = k.now() < this.crashUntil && k.rng.chance(this.crashRate);
    const inv: Invocation = {
      crashAfter: crashes ? k.rng.int(0, 3) : undefined,
      mutations: 0,
      dead: false,
      onCrash: (before) => {
        this.stats.crashes++;
        k.log('lambda', `reconciler crashed before ${before}`);
        k.abandon();
        this.failed(e);
        this.finish();
      },
    };
    let timedOut = false;
    let stop: () => void = () => {};
    const work = (): Promise<unknown> => {
      if (e.kind === 'pass') {
        const config = this.cloud.config;
        const start = (detail: SnapshotRequestDetail) => this.requestSnapshot(detail);
        const ports = this.cloud.ports(inv, start);
        const pass = e.workersOnly
          ? Promise.resolve(undefined)
          : this.reconcile(ports, config, { remainingMs: () => started + TIMEOUT_MS - k.now() });
        return pass.then(async (value) => {
          // The handler, after the master pass: the worker group's hooks, every pass.
          const outcomes = await settleWorkerHooks(
            this.cloud.workerHookPort(inv, ports),
            config.cluster,
            config.workerGroupName,
            config.serviceTargetGroupArns,
          );
          for (const o of outcomes) {
            if (o.result !== 'continued') continue;
            if (o.hook === 'launching') this.stats.workerLaunchesContinued++;
            else this.stats.workerTerminationsContinued++;
            k.log('decided', `worker ${o.hook} ${o.instanceId}: CONTINUE (${o.reason})`);
          }
          // The handler, after a scheduled pass: a snapshot invocation when one is due.
          if (e.scheduled && config.backupBucket) {
            const invoke = this.cloud.invoke(inv, start);
            await scheduledSnapshot(ports.parameters, config, k.now(), () =>
              requestSnapshot(ports.parameters, config, k.now(), invoke, 'scheduled'),
            );
          }
          return value;
        });
      }
      this.stats.snapshots++;
      const ports = this.cloud.ports(inv);
      return takeSnapshot(
        { fleet: ports.fleet, etcd: ports.etcd, parameters: ports.parameters, now: () => k.now() },
        this.cloud.config.backupBucket ? this.cloud.snapshotStore(inv) : undefined,
        this.cloud.config,
        e.detail,
      ).then((r) => {
        k.log(
          'lambda',
          `snapshot (${e.detail.reason}): ${r.outcome === 'taken' ? r.key : r.outcome === 'failed' ? `failed: ${r.error}` : r.outcome}`,
        );
        return undefined;
      });
    };
    const run = new Promise<unknown>((resolve, reject) => {
      stop = () => resolve(undefined);
      work().then(resolve, reject);
    });
    k.after(TIMEOUT_MS, () => {
      if (inv.dead || this.current !== inv) return;
      // "Task timed out after 120.00 seconds": the process is frozen; its pending calls never finish.
      timedOut = true;
      inv.dead = true;
      this.stats.timeouts++;
      k.log(
        'lambda',
        `${e.kind === 'pass' ? 'reconciler' : 'snapshot invocation'} timed out after ${TIMEOUT_MS / 1000} s`,
      );
      stop();
    });
    this.current = inv;
    k.spawn(
      () => run,
      (r) => {
        if (this.current === inv) this.current = undefined;
        if (timedOut) {
          this.failed(e);
          this.finish();
          return;
        }
        if (inv.dead) return;
        if (r.ok) this.logDecisions(r.value);
        if (!r.ok) {
          this.stats.errors++;
          const msg = r.error instanceof Error ? `${r.error.name}: ${r.error.message}` : String(r.error);
          this.lastError = msg;
          k.log('lambda', `${e.kind} failed: ${msg}`);
          this.failed(e);
        }
        this.finish();
      },
    );
  }

  /** A function error (crash, timeout, exception): Lambda retries the event after a delay, a limited number of times. */
  private failed(e: QueuedEvent): void {
    if (e.kind !== 'snapshot' || e.attempt >= MAX_RETRIES) return;
    // A pass's event is not retried here: the schedule runs a pass every minute anyway (harsher, not kinder).
    this.cloud.k.after(RETRY_DELAY_MS, () => this.requestSnapshot(e.detail, e.attempt + 1, e.at));
  }

  /** What the pass decided and why, with each action's outcome (from reconcilePass's result). */
  private logDecisions(value: unknown): void {
    const ignored = (value as { ignoredSignals?: unknown } | undefined)?.ignoredSignals;
    if (Array.isArray(ignored)) for (const why of ignored) this.cloud.k.log('lambda', String(why));
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
    // Lambda picks the next queued event up shortly after.
    if (this.queue.length > 0) this.cloud.k.after(100, () => this.next());
  }
}
