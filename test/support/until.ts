/**
 * Waiting on real processes: repeat a step until a condition holds, bounded by a deadline in time,
 * never by a count of tries (how many tries a condition needs depends on the machine's load: an
 * etcd election on a busy machine can outlast any fixed number of reconcile passes).
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface UntilOptions {
  /** Give up after this long (ms). */
  deadlineMs: number;
  /** Pause between tries (ms; default 250). */
  pauseMs?: number;
  /** What is awaited, for the error message. */
  what: string;
  /** A line per try for the error message (default: none). */
  describe?: () => string;
}

/**
 * Runs `step` and then `done` until `done` returns true; throws, naming `what` and the tries, when
 * the deadline passes first. Returns the number of tries it took.
 */
export async function until(
  step: () => Promise<unknown>,
  done: () => boolean | Promise<boolean>,
  o: UntilOptions,
): Promise<number> {
  const deadline = Date.now() + o.deadlineMs;
  for (let tries = 1; ; tries++) {
    await step();
    if (await done()) return tries;
    if (Date.now() >= deadline) {
      throw new Error(
        `${o.what}: not reached within ${o.deadlineMs / 1000} s (${tries} tries)${o.describe ? `:\n${o.describe()}` : ''}`,
      );
    }
    await sleep(o.pauseMs ?? 250);
  }
}
