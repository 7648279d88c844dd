/**
 * `tripod sandbox` with the example spec's warm pool (masters.warmPool, part 1's default: one Stopped
 * instance): the cluster forms with its pool prepared, and losing the zone the pool instance sits in
 * heals without it (it cannot start there: the group launches fresh elsewhere), real etcd keeping the data.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/cluster-spec/load.js';
import { runSandbox } from '../../src/sim/sandbox.js';

describe('tripod sandbox with a warm pool', () => {
  it('lose-zone where the pool instance sits: healed by a fresh launch elsewhere, the pool instance never taken', async () => {
    const file = resolve(import.meta.dirname, '../../examples/three-zones.yaml');
    const loaded = parseSpec(readFileSync(file, 'utf8'), file);
    if (!loaded.ok) throw new Error('examples/three-zones.yaml does not load');
    expect(loaded.spec.masters.warmPool.size).toBeGreaterThan(0);
    const lines: string[] = [];
    const r = await runSandbox({
      spec: loaded.spec,
      seed: 2,
      scenarios: ['lose-zone'],
      out: (l) => lines.push(l),
    });
    expect(r.ok, lines.join('\n')).toBe(true);
    const tl = r.timeline;
    const start = tl.findIndex((e) => e.text.startsWith('== scenario lose-zone'));
    const sits = tl.slice(start).find((e) => /the warm pool's i-[0-9a-f]{17} sits in/.test(e.text));
    expect(sits, 'the sandbox placed the lost zone on the pool instance').toBeDefined();
    const pooled = /(i-[0-9a-f]{17})/.exec(sits?.text ?? '')?.[1] as string;
    const zone = / sits in (\S+) /.exec(sits?.text ?? '')?.[1] as string;
    // the replacement is a fresh launch in another zone; the pool instance is never started
    expect(
      tl.slice(start).some((e) => e.source === 'asg' && e.text.startsWith(`warm start: ${pooled}`)),
    ).toBe(false);
    const launch = tl.slice(start).find((e) => e.source === 'asg' && /^launch i-/.test(e.text));
    expect(launch?.text).not.toContain(zone);
    expect(r.scenarios).toMatchObject([{ name: 'lose-zone', healed: true, dataOk: true }]);
  }, 200_000);
});
