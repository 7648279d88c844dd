/** Virtual time: the simulation's clock only moves when the event queue says so. */
import type { Clock } from '../heal/ports.js';

/** 2026-01-01T00:00:00Z: every simulation starts here, so timelines are comparable. */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

export class VirtualClock implements Clock {
  private t: number;

  constructor(readonly start = SIM_EPOCH) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** Milliseconds since the start of the simulation. */
  elapsed(): number {
    return this.t - this.start;
  }

  advanceTo(t: number): void {
    if (t < this.t) throw new Error(`VirtualClock: cannot go back from ${this.t} to ${t}`);
    this.t = t;
  }
}

/** `+01:02:03.456` (hours:minutes:seconds since the start). */
export function formatElapsed(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const frac = ms % 1000;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `+${p2(h)}:${p2(m)}:${p2(s)}.${String(frac).padStart(3, '0')}`;
}
