/**
 * `tripod sandbox` in-process with real etcd processes: two scenarios (lose a master, lose an etcd
 * service), then lose-quorum (a restore from a snapshot). Asserts it healed, the reconciler's decisions came in the right order, the keys written
 * before the faults survived, and no etcd process is left behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { parseScenarios } from '../../src/cli/sandbox.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import { liveEtcdPids } from '../../src/sim/etcd-real.js';
import { runSandbox, scenarioOrder } from '../../src/sim/sandbox.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t) };
  return { io, out, err };
}

interface Entry {
  at: number;
  source: string;
  text: string;
}

/** Index of the first decided line matching `re` at or after `from`. */
function decided(timeline: Entry[], re: RegExp, from = 0): number {
  const i = timeline.findIndex((e, n) => n >= from && e.source === 'decided' && re.test(e.text));
  if (i < 0) throw new Error(`no decided line matching ${re} after entry ${from}`);
  return i;
}

/** etcd processes whose command line names this run's working directory. */
function etcdProcessesUnder(dir: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(dir) && /\betcd\b/.test(l));
}

describe('tripod sandbox', () => {
  it('heals a lost master, a lost etcd service and a lost worker with real etcd, in the right order, keeping the data', async () => {
    const c = capture();
    const code = await main(
      ['sandbox', '--scenarios', 'lose-master,lose-etcd,lose-worker', '--seed', '3', '--format', 'json'],
      c.io,
    );
    const live = c.err.join('\n');
    expect(code, live).toBe(0);
    const r = JSON.parse(c.out.join('\n')) as {
      ok: boolean;
      boot: { healed: boolean };
      scenarios: Array<{
        name: string;
        healed: boolean;
        dataOk: boolean;
        reconcilerMs: number;
        passes: number;
      }>;
      keysWritten: number;
      keysOk: boolean;
      leftoverPids: number[];
      dir: string;
      timeline: Entry[];
      planSummary: { create: number };
    };
    expect(r.ok).toBe(true);
    expect(r.boot.healed).toBe(true);
    expect(r.planSummary.create).toBeGreaterThan(10);
    expect(r.scenarios.map((s) => [s.name, s.healed, s.dataOk])).toEqual([
      ['lose-master', true, true],
      ['lose-etcd', true, true],
      ['lose-worker', true, true],
    ]);
    // The killed worker cannot drain: its terminating hook is completed by the reconciler
    // (heal/worker-hooks.ts, after the drain deadline), not left to time out.
    expect(
      r.timeline.some((e) => e.source === 'decided' && /^worker terminating i-\w+: CONTINUE/.test(e.text)),
      r.timeline.map((e) => `${e.source} ${e.text}`).join('\n'),
    ).toBe(true);
    expect(r.scenarios.every((s) => s.passes > 0 && s.reconcilerMs > 0)).toBe(true);
    expect(r.keysWritten).toBe(5);
    expect(r.keysOk).toBe(true);

    // The live output: the topology, the plan, the timeline, the summary table.
    expect(live).toContain('eu-west-1a');
    expect(live).toMatch(/Plan for cluster demo-eu \(eu-west-1\): \d+ to create/);
    expect(live).toMatch(/scenario +healed +simulated +real +reconciler/);
    expect(live).toMatch(/lose-master +yes/);
    expect(live).toMatch(/quorum margin 0 \(2 of 3 voters healthy, quorum 2\)/);

    // lose-master: the dead member is removed before the replacement's learner is added, then the
    // learner is promoted, then the node registered.
    const tl = r.timeline;
    for (const name of ['lose-master', 'lose-etcd']) {
      const start = tl.findIndex((e) => e.source === 'sandbox' && e.text.startsWith(`== scenario ${name}`));
      expect(start).toBeGreaterThan(0);
      const fault = tl[start + 1] as Entry;
      expect(fault.source).toBe('fault');
      const victim = /(i-[0-9a-f]{17})/.exec(fault.text)?.[1] as string;
      const removed = decided(tl, new RegExp(`^remove-member \\d+ \\(${victim}\\): .* -> ok$`), start);
      const added = decided(tl, /^add-learner (i-[0-9a-f]{17}) .* -> ok$/, start);
      const newcomer = /^add-learner (i-[0-9a-f]{17})/.exec((tl[added] as Entry).text)?.[1] as string;
      expect(newcomer).not.toBe(victim);
      const promoted = decided(tl, new RegExp(`^promote-member \\d+ \\(${newcomer}\\): .* -> ok$`), start);
      const registered = decided(tl, new RegExp(`^register-target ${newcomer}: .* -> ok$`), start);
      expect(removed).toBeLessThan(added);
      expect(added).toBeLessThan(promoted);
      expect(promoted).toBeLessThan(registered);
    }
    // lose-etcd is debounced: the instance is marked unhealthy only after the member stayed down.
    const etcdStart = tl.findIndex((e) => e.text.startsWith('== scenario lose-etcd'));
    expect(decided(tl, /^set-unhealthy i-[0-9a-f]{17}: .* -> ok$/, etcdStart)).toBeGreaterThan(etcdStart);

    // Nothing left behind: no live process, no etcd with this run's directory, no working dir.
    expect(r.leftoverPids).toEqual([]);
    expect(etcdProcessesUnder(r.dir)).toEqual([]);
    expect(existsSync(r.dir)).toBe(false);
  }, 150_000);

  it('lose-quorum: a majority destroyed, restored from the snapshot through the reconciler, grown back, every key read back (issue 14, finding 6)', async () => {
    const c = capture();
    const code = await main(['sandbox', '--scenarios', 'lose-quorum', '--seed', '5', '--json'], c.io);
    const live = c.err.join('\n');
    expect(code, live).toBe(0);
    const r = JSON.parse(c.out.join('\n')) as {
      ok: boolean;
      scenarios: Array<{ name: string; healed: boolean; dataOk: boolean; minQuorumMargin: number }>;
      keysOk: boolean;
      leftoverPids: number[];
      timeline: Entry[];
    };
    expect(r.ok).toBe(true);
    expect(r.scenarios.map((s) => [s.name, s.healed, s.dataOk])).toEqual([['lose-quorum', true, true]]);
    expect(r.scenarios[0]!.minQuorumMargin).toBeLessThan(0); // quorum really was lost
    expect(r.keysOk).toBe(true);
    const tl = r.timeline;
    const start = tl.findIndex((e) => e.text.startsWith('== scenario lose-quorum'));
    const at = (re: RegExp) => {
      const i = tl.findIndex((e, n) => n > start && re.test(e.text));
      if (i < 0) throw new Error(`no timeline line matching ${re}`);
      return i;
    };
    // The order of a restore: refused until quorum is reported lost, recorded, the seed's restore
    // join, the seed restores, the group grows back, the record is cleared, learners join.
    const recorded = at(/^tripod restore: quorum lost/);
    const join = decided(
      tl,
      /^publish-join (i-[0-9a-f]{17}) \(new\): the seed of the restore .* -> ok$/,
      start,
    );
    const seed = /^publish-join (i-[0-9a-f]{17})/.exec((tl[join] as Entry).text)?.[1] as string;
    const restored = at(new RegExp(`^${seed} restored .*: etcd runs as a new one-member cluster`));
    const finish = at(/^tripod restore --finish/);
    const cleared = decided(tl, /^clear-restore .* -> ok$/, start);
    const learner = decided(tl, /^add-learner i-[0-9a-f]{17} .* -> ok$/, start);
    expect(recorded).toBeLessThan(join);
    expect(join).toBeLessThan(restored);
    expect(restored).toBeLessThan(finish);
    expect(finish).toBeLessThan(cleared);
    expect(cleared).toBeLessThan(learner);
    expect(r.leftoverPids).toEqual([]);
  }, 240_000);

  it('orders scenarios so a zone is lost before it comes back, and never two zones at once', () => {
    expect(scenarioOrder(['zone-back'])).toEqual(['lose-zone', 'zone-back']);
    expect(scenarioOrder(['lose-zone', 'partition', 'zone-back'])).toEqual([
      'lose-zone',
      'partition',
      'zone-back',
    ]);
    expect(scenarioOrder(['lose-zone', 'lose-zone'])).toEqual(['lose-zone', 'zone-back', 'lose-zone']);
    expect(scenarioOrder(['lose-master', 'zone-back', 'zone-back'])).toEqual([
      'lose-master',
      'lose-zone',
      'zone-back',
      'lose-zone',
      'zone-back',
    ]);
  });

  it('rejects unknown scenarios and explains the options', async () => {
    expect(() => parseScenarios('lose-master,lose-everything')).toThrow(/unknown scenario "lose-everything"/);
    const c = capture();
    expect(await main(['sandbox', '--scenarios', 'nope'], c.io)).toBe(64);
    const h = capture();
    expect(await main(['sandbox', '--help'], h.io)).toBe(0);
    expect(h.out.join('\n')).toMatch(/^Usage: tripod sandbox/);
  });
});

describe('runSandbox when etcd cannot run', () => {
  it('reports the cluster did not form, runs no scenario, and leaves nothing behind', async () => {
    const file = 'examples/three-zones.yaml';
    const loaded = parseSpec(readFileSync(file, 'utf8'), file);
    if (!loaded.ok) throw new Error('example spec does not load');
    const lines: string[] = [];
    const r = await runSandbox({
      spec: loaded.spec,
      seed: 1,
      scenarios: ['lose-master'],
      etcdBin: '/bin/false',
      bootTimeoutRealMs: 20_000, // BOOT_PHASES (src/sim/node.ts): instance start, OS boot and packages come before the etcd phase
      out: (l) => lines.push(l),
    });
    expect(r.ok).toBe(false);
    expect(r.boot.healed).toBe(false);
    expect(r.boot.notHealed).toMatch(/no leader|voters|answer/);
    expect(r.scenarios).toEqual([]);
    expect(lines.join('\n')).toMatch(/the cluster did not form/);
    expect(lines.join('\n')).toMatch(/etcd process of i-[0-9a-f]{17} exited/);
    expect(liveEtcdPids()).toEqual([]);
    expect(existsSync(r.dir)).toBe(false);
  }, 60_000);
});
