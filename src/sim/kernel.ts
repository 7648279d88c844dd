/**
 * The simulation kernel: one seeded random source, one virtual clock, one event queue and the
 * timeline. Every component schedules its work here; `runUntil` pops events in time order. Async
 * work (the reconciler's port calls) sleeps on the queue too, so the same seed replays identically.
 */
import { formatElapsed, VirtualClock } from './clock.js';
import { EventQueue } from './events.js';
import { Random } from './random.js';

export interface TimelineEntry {
  at: number;
  source: string;
  text: string;
}

export class Kernel {
  readonly clock: VirtualClock;
  readonly rng: Random;
  readonly timeline: TimelineEntry[] = [];
  private readonly queue = new EventQueue<() => void>();
  /** Async tasks in flight (reconciler passes): while any is, the loop lets promises settle after each event. */
  private asyncTasks = 0;
  /** Called after every event (the invariant checker). */
  afterEvent: (() => void) | undefined;
  /** Called with every timeline entry as it is logged (the sandbox's live output). */
  onLog: ((e: TimelineEntry) => void) | undefined;

  constructor(
    readonly seed: number,
    start?: number,
  ) {
    this.clock = new VirtualClock(start);
    this.rng = new Random(seed);
  }

  now(): number {
    return this.clock.now();
  }

  at(t: number, fn: () => void): void {
    this.queue.push(Math.max(t, this.clock.now()), fn);
  }

  after(ms: number, fn: () => void): void {
    this.queue.push(this.clock.now() + Math.max(0, Math.round(ms)), fn);
  }

  /** A promise resolved when virtual time has moved on by `ms`. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Run an async task inside the simulation; `onDone` gets its outcome. */
  spawn<T>(
    task: () => Promise<T>,
    onDone: (r: { ok: true; value: T } | { ok: false; error: unknown }) => void,
  ): void {
    this.asyncTasks++;
    task().then(
      (value) => {
        this.asyncTasks--;
        onDone({ ok: true, value });
      },
      (error: unknown) => {
        this.asyncTasks--;
        onDone({ ok: false, error });
      },
    );
  }

  /** Forget an async task that will never finish (a crashed reconciler). */
  abandon(): void {
    this.asyncTasks--;
  }

  log(source: string, text: string): void {
    const e = { at: this.clock.elapsed(), source, text };
    this.timeline.push(e);
    this.onLog?.(e);
  }

  /**
   * Real-time mode (real etcd processes): virtual time follows the wall clock `speed` times faster,
   * so real etcd has real time to elect and catch up while the simulated delays (boots, polls, the
   * one-minute schedule, hook timeouts) are compressed. Events run once their virtual time has come;
   * async tasks (reconciler passes) do real I/O meanwhile. Not deterministic, by nature.
   * Returns true when `stop()` answered true, false when virtual time `t` was reached.
   */
  async runRealtime(t: number, speed: number, stop?: () => boolean): Promise<boolean> {
    const wall0 = performance.now();
    const v0 = this.clock.now();
    for (;;) {
      const vnow = Math.min(t, v0 + Math.round((performance.now() - wall0) * speed));
      for (;;) {
        const next = this.queue.peek();
        if (!next || next.at > vnow) break;
        this.queue.pop();
        this.clock.advanceTo(Math.max(this.clock.now(), next.at));
        next.value();
        this.afterEvent?.();
        if (stop?.()) return true;
      }
      if (this.clock.now() < vnow) this.clock.advanceTo(vnow);
      if (stop?.()) return true;
      if (vnow >= t) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Process events up to and including time `t`, or until `stop()` answers true after an event. */
  async runUntil(t: number, stop?: () => boolean): Promise<boolean> {
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.at > t) break;
      this.queue.pop();
      this.clock.advanceTo(next.at);
      next.value();
      if (this.asyncTasks > 0) await settle();
      this.afterEvent?.();
      if (stop?.()) return true;
    }
    if (this.clock.now() < t) this.clock.advanceTo(t);
    return false;
  }

  timelineText(): string {
    return this.timeline.map((e) => `${formatElapsed(e.at)} ${e.source.padEnd(10)} ${e.text}`).join('\n');
  }
}

/** Let every pending promise callback run (no real I/O happens in the simulator, so this is deterministic). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
