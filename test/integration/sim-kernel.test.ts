import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatElapsed, VirtualClock } from '../../src/sim/clock.js';
import { EventQueue } from '../../src/sim/events.js';
import { Kernel } from '../../src/sim/kernel.js';
import { Random } from '../../src/sim/random.js';

describe('Random', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const sa = Array.from({ length: 50 }, () => a.nextU32());
    expect(Array.from({ length: 50 }, () => b.nextU32())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.nextU32())).not.toEqual(sa);
  });

  it('keeps int() within its bounds and reaches both ends', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: -50, max: 50 }),
        fc.integer({ min: 0, max: 20 }),
        (seed, lo, span) => {
          const r = new Random(seed);
          for (let i = 0; i < 50; i++) {
            const v = r.int(lo, lo + span);
            if (v < lo || v > lo + span || !Number.isInteger(v)) return false;
          }
          return true;
        },
      ),
    );
    const r = new Random(7);
    const seen = new Set(Array.from({ length: 500 }, () => r.int(1, 6)));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('makes etcd-style uint64 ids as decimal strings beyond 2^53', () => {
    const r = new Random(1);
    const ids = Array.from({ length: 100 }, () => r.uint64());
    for (const id of ids) expect(id).toMatch(/^[1-9]\d*$/);
    expect(ids.some((id) => BigInt(id) > 2n ** 53n)).toBe(true);
  });

  it('forks independent streams deterministically', () => {
    expect(new Random(5).fork('faults').nextU32()).toBe(new Random(5).fork('faults').nextU32());
    expect(new Random(5).fork('faults').nextU32()).not.toBe(new Random(5).fork('other').nextU32());
  });
});

describe('EventQueue', () => {
  it('pops in time order, ties in insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const q = new EventQueue<number>();
        for (const [i, t] of times.entries()) q.push(t, i);
        const out: Array<[number, number]> = [];
        for (let e = q.pop(); e; e = q.pop()) out.push([e.at, e.value]);
        const expected = times
          .map((t, i) => [t, i] as [number, number])
          .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(expected);
      }),
    );
  });
});

describe('VirtualClock and Kernel', () => {
  it('never goes back in time', () => {
    const c = new VirtualClock(1000);
    c.advanceTo(2000);
    expect(() => c.advanceTo(1500)).toThrow(/cannot go back/);
    expect(c.elapsed()).toBe(1000);
    expect(formatElapsed(3_723_004)).toBe('+01:02:03.004');
  });

  it('runs events in virtual time and lets async tasks sleep on the queue', async () => {
    const k = new Kernel(1);
    const seen: string[] = [];
    k.after(500, () => seen.push(`a@${k.clock.elapsed()}`));
    k.spawn(
      async () => {
        await k.sleep(200);
        seen.push(`task@${k.clock.elapsed()}`);
        await k.sleep(400);
        seen.push(`task@${k.clock.elapsed()}`);
        return 7;
      },
      (r) => seen.push(`done ${r.ok ? r.value : 'err'}`),
    );
    await k.runUntil(k.clock.start + 10_000);
    expect(seen).toEqual(['task@200', 'a@500', 'task@600', 'done 7']);
    expect(k.clock.elapsed()).toBe(10_000);
  });

  it("in real time, compresses the simulated delays only: a pass's chain of latencies takes their sum, its real I/O counts at 1x", async () => {
    // The sandbox runs 20x: before, each awaited latency cost at least one 5 ms wait of the loop
    // (100 ms simulated) and real etcd I/O counted 20 times over, so the reconciler's share
    // measured the compression, not the reconciler.
    const k = new Kernel(1);
    const seen: Record<string, number> = {};
    let done = false;
    let early: number | undefined;
    k.spawn(
      async () => {
        const t0 = k.clock.elapsed();
        for (let i = 0; i < 20; i++) await k.sleep(30);
        seen.chain = k.clock.elapsed() - t0;
        const t1 = k.clock.elapsed();
        // An event due 500 ms (simulated) after the I/O starts must not run during a 50 ms real call.
        k.after(500, () => {
          early ??= k.clock.elapsed() - t1;
        });
        const w0 = performance.now();
        const v = await k.realIo(() => new Promise<number>((r) => setTimeout(() => r(7), 50)));
        seen.ioReal = performance.now() - w0;
        seen.io = k.clock.elapsed() - t1;
        seen.value = v;
        await expect(k.realIo(() => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
      },
      (r) => {
        done = true;
        if (!r.ok) throw r.error;
      },
    );
    const deadline = performance.now() + 20_000;
    await k.runRealtime(k.now() + 3_600_000, 20, () => done || performance.now() > deadline);
    expect(done).toBe(true);
    expect(seen.chain).toBe(600);
    expect(seen.value).toBe(7);
    expect(seen.io).toBeGreaterThanOrEqual(50);
    expect(seen.io).toBeLessThanOrEqual(Math.ceil(seen.ioReal as number) + 1);
    expect(early === undefined || early >= (seen.io as number)).toBe(true);
  });
});
