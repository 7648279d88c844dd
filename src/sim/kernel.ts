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
  /**
   * Real time the simulated world spent waiting on real work (runRealtime): how many pieces are in
   * flight, since when, and the real milliseconds held since runRealtime last looked.
   */
  private readonly held = { count: 0, since: 0, ms: 0 };
  /** Ends runRealtime's wait between two looks early (real I/O finished). */
  private wake: (() => void) | undefined;
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
   * Real I/O inside the simulation (a reconciler pass's call to a real etcd process). While any is
   * in flight, runRealtime's virtual clock follows the wall clock at 1x, not `speed` times faster:
   * the call counts for the time it really takes (the same call inside a VPC takes about as long),
   * not 20 times that. Its outcome comes back through the event queue at the virtual time it
   * finished (start + its real duration), so the caller's next step starts then.
   */
  realIo<T>(io: () => Promise<T>): Promise<T> {
    const startedAt = this.clock.now();
    const t0 = this.hold();
    return new Promise<T>((resolve, reject) => {
      const back = (deliver: () => void) => {
        this.release();
        this.at(startedAt + Math.round(performance.now() - t0), deliver);
        this.wake?.();
      };
      let running: Promise<T>;
      try {
        running = io();
      } catch (e) {
        running = Promise.reject(e);
      }
      running.then(
        (v) => back(() => resolve(v)),
        (e: unknown) => back(() => reject(e)),
      );
    });
  }

  private hold(): number {
    const now = performance.now();
    if (this.held.count++ === 0) this.held.since = now;
    return now;
  }

  private release(): void {
    if (--this.held.count === 0) this.held.ms += performance.now() - this.held.since;
  }

  /** The real milliseconds held since the last call (a hold still on counts up to now). */
  private takeHeld(): number {
    const now = performance.now();
    let ms = this.held.ms;
    this.held.ms = 0;
    if (this.held.count > 0) {
      ms += now - this.held.since;
      this.held.since = now;
    }
    return ms;
  }

  /**
   * Real-time mode (real etcd processes): virtual time follows the wall clock `speed` times faster,
   * so real etcd has real time to elect and catch up while the simulated delays (boots, polls, the
   * one-minute schedule, hook timeouts) are compressed. Events run once their virtual time has come;
   * async tasks (reconciler passes) do real I/O meanwhile. Not deterministic, by nature.
   * The compression is for the simulated delays only, never for the reconciler's own work: after
   * each event the async tasks' continuations run at that event's virtual time (a pass's chain of
   * simulated call latencies takes their sum, not one wait of this loop each), and the real time
   * they and their real I/O (`realIo`) take counts at 1x.
   * Returns true when `stop()` answered true, false when virtual time `t` was reached.
   */
  async runRealtime(t: number, speed: number, stop?: () => boolean): Promise<boolean> {
    let v = this.clock.now();
    let wallLast = performance.now();
    this.takeHeld();
    for (;;) {
      const wallNow = performance.now();
      const held = Math.min(this.takeHeld(), wallNow - wallLast);
      v += (wallNow - wallLast - held) * speed + held;
      wallLast = wallNow;
      let vnow = Math.min(t, Math.round(v));
      for (;;) {
        const next = this.queue.peek();
        if (!next || next.at > vnow) break;
        this.queue.pop();
        this.clock.advanceTo(Math.max(this.clock.now(), next.at));
        next.value();
        if (this.asyncTasks > 0) {
          this.hold();
          await settle();
          this.release();
          // Real I/O started at this event's time: the world waits there and follows it at 1x.
          if (this.held.count > 0) v = vnow = this.clock.now();
        }
        this.afterEvent?.();
        if (stop?.()) return true;
      }
      if (this.clock.now() < vnow) this.clock.advanceTo(vnow);
      v = Math.max(v, this.clock.now());
      if (stop?.()) return true;
      if (vnow >= t) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, 5);
        this.wake = done;
      });
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
