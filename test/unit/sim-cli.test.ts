import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
  return { io, out, err };
}

describe('tripod simulate', () => {
  it('runs seeds, reports figures and exits 0 when every invariant holds', async () => {
    const c = capture();
    expect(
      await main(['simulate', '--seeds', '4', '--from', '70', '--faults', 'kill,throttle,event-loss'], c.io),
    ).toBe(0);
    expect(c.out.join('\n')).toMatch(
      /^4 seeds, 0 failed, .* seeds\/min, 1 job\); convergence after the faults stop: median \d+ s, worst \d+ s/,
    );
    expect(c.err.join('\n')).toContain(
      'simulating seeds 70..73: 3 zones, 3 masters, warm pool 1 Stopped, faults kill,throttle,event-loss',
    );
  });

  it("runs the spec's warm pool unless --warm-pool says otherwise", async () => {
    const a = capture();
    expect(await main(['simulate', '--seed', '8', '--timeline', '--faults', 'none'], a.io)).toBe(0);
    expect(a.out[0]).toMatch(/seed 8: 3 zones, 3 masters, a warm pool of 1 Stopped,/);
    expect(a.out.join('\n')).toMatch(/asg +warm pool: launch i-[0-9a-f]+ in /);
    const b = capture();
    expect(
      await main(['simulate', '--seed', '8', '--timeline', '--faults', 'none', '--warm-pool', '0'], b.io),
    ).toBe(0);
    expect(b.out[0]).toMatch(/seed 8: 3 zones, 3 masters, no warm pool,/);
    expect(b.out.join('\n')).not.toContain('warm pool: launch');
    const c = capture();
    expect(
      await main(
        ['simulate', '--seeds', '1', '--from', '8', '--faults', 'none', '--warm-pool', '2:Running'],
        c.io,
      ),
    ).toBe(0);
    expect(c.err.join('\n')).toContain('3 zones, 3 masters, warm pool 2 Running, faults none');
  });

  it('replays one seed with its timeline, identically each time', async () => {
    const a = capture();
    const b = capture();
    expect(await main(['simulate', '--seed', '8', '--timeline', '--zones', '4'], a.io)).toBe(0);
    expect(await main(['simulate', '--seed', '8', '--timeline', '--zones', '4'], b.io)).toBe(0);
    expect(a.out[0]).toMatch(/^\+00:00:00\.000 sim +seed 8: 4 zones, 5 masters/);
    expect(a.out).toEqual(b.out);
    expect(a.out.at(-1)).toMatch(/^seed 8 passed: converged/);
  });

  it('exits 1 with the seed, the violation, the timeline and the replay command when a seed fails', async () => {
    // One master cannot survive its own loss: the invariants must say so.
    const c = capture();
    expect(
      await main(['simulate', '--seeds', '2', '--from', '2', '--masters', '1', '--faults', 'kill'], c.io),
    ).toBe(1);
    const err = c.err.join('\n');
    expect(err).toMatch(
      /seed 2 FAILED:\n {2}converge: not converged 60 min after the faults stopped: etcd has no leader/,
    );
    expect(err).toMatch(/fault +kill i-[0-9a-f]+/);
    expect(err).toContain('Replay: tripod simulate --seed 2 --timeline');
  });

  it('rejects bad options with exit 64 and a clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--faults', 'kill,kil'], /unknown fault "kil" \(known: kill, zone-outage/],
      [['--masters', '4'], /--masters must be odd/],
      [['--zones', '9'], /--zones must be a whole number from 1 to 6/],
      [['--timeline'], /--timeline needs --seed S/],
      [['--seed', '1', '--seeds', '3'], /--seed runs one seed/],
      [['--etcd', 'fake'], /--etcd must be one of model, real/],
      [['--sed', '3'], /unknown option '--sed': did you mean --seed\?/],
      [['--warm-pool', 'two'], /--warm-pool must be SIZE or SIZE:STATE/],
      [['--warm-pool', '11'], /--warm-pool 11: masters\.warmPool\.size must be at most 10/],
      [
        ['--warm-pool', '1:Hibernated'],
        /--warm-pool 1:Hibernated: masters\.warmPool\.state Hibernated is refused/,
      ],
      [['--warm-pool', '1:Warm'], /masters\.warmPool\.state must be Stopped or Running/],
      [['--warm-pool', '1', '--etcd', 'real'], /--etcd real runs no warm pool yet/],
    ];
    for (const [args, msg] of cases) {
      const c = capture();
      expect(await main(['simulate', ...args], c.io)).toBe(64);
      expect(c.err.join('\n')).toMatch(msg);
    }
  });

  it('has --help with a usage line', async () => {
    const c = capture();
    expect(await main(['simulate', '--help'], c.io)).toBe(0);
    expect(c.out[0]).toMatch(/^Usage: tripod simulate /);
  });
});
