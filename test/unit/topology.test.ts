import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';
import { autoMasterCount, deriveTopology, placeMasters, quorumOf } from '../../src/cluster-spec/topology.js';
import { topologyMarkdown } from '../../src/cluster-spec/topology-render.js';

function specWith(zones: string[], count: 'auto' | number = 'auto'): ClusterSpec {
  const r = parseSpec(
    `apiVersion: tripod/v1\nkind: Cluster\nname: t\nregion: us-east-1\nkubernetesVersion: 1.32.4\nnetwork:\n  cidr: 10.0.0.0/16\n  zones: [${zones.join(', ')}]\nmasters:\n  count: ${count}\n`,
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
}

const zoneLists = fc.uniqueArray(fc.constantFrom(...'abcdef'.split('').map((l) => `us-east-1${l}`)), {
  minLength: 1,
  maxLength: 6,
});

describe('topology', () => {
  it('3 zones: 3 masters, quorum 2, survives any zone', () => {
    const t = deriveTopology(specWith(['us-east-1a', 'us-east-1b', 'us-east-1c']));
    expect([t.masters, t.quorum, t.survivesAnyZoneLoss]).toEqual([3, 2, true]);
    expect(t.zones.map((z) => z.masters)).toEqual([1, 1, 1]);
    expect(t.warnings).toEqual([]);
  });

  it('4 zones: 5 masters, quorum 3', () => {
    const t = deriveTopology(specWith(['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d']));
    expect([t.masters, t.quorum, t.survivesAnyZoneLoss]).toEqual([5, 3, true]);
    expect(t.zones.map((z) => z.masters)).toEqual([2, 1, 1, 1]);
  });

  it('2 zones say plainly that a zone loss is not survivable, and why', () => {
    const t = deriveTopology(specWith(['us-east-1a', 'us-east-1b']));
    expect(t.masters).toBe(3);
    expect(t.survivesAnyZoneLoss).toBe(false);
    expect(t.zones.map((z) => z.survivesLoss)).toEqual([false, true]);
    expect(t.warnings.join()).toMatch(
      /NOT survivable: losing us-east-1a leaves 1 of 3 masters, below the quorum of 2/,
    );
    expect(t.warnings.join()).toMatch(/at least 3 zones/);
  });

  it('Markdown puts every warning in ONE alert block (GitHub shows a second [!WARNING] as text)', () => {
    const md = topologyMarkdown(deriveTopology(specWith(['us-east-1a', 'us-east-1b'])));
    expect(md.match(/\[!WARNING\]/g)).toHaveLength(1);
    expect(md).toMatch(
      /> \[!WARNING\]\n> This cluster does \*\*not\*\* survive a zone loss\.\n>\n> A zone loss is NOT survivable/,
    );
    expect(
      topologyMarkdown(deriveTopology(specWith(['us-east-1a', 'us-east-1b', 'us-east-1c']))),
    ).not.toMatch(/WARNING/);
  });

  it('1 zone with 1 master warns that there is no high availability', () => {
    const t = deriveTopology(specWith(['us-east-1a'], 1));
    expect(t.warnings[0]).toMatch(/no high availability/);
    expect(t.survivesAnyZoneLoss).toBe(false);
  });

  it('property: auto master count is odd, at least the zone count and at least 3', () => {
    fc.assert(
      fc.property(zoneLists, (zones) => {
        const t = deriveTopology(specWith(zones));
        expect(t.masters % 2).toBe(1);
        expect(t.masters).toBeGreaterThanOrEqual(zones.length);
        expect(t.masters).toBeGreaterThanOrEqual(3);
        expect(t.masters).toBe(autoMasterCount(zones.length));
        expect(t.zones.reduce((n, z) => n + z.masters, 0)).toBe(t.masters);
      }),
    );
  });

  it('property: the survival verdict matches a brute-force count for every zone', () => {
    fc.assert(
      fc.property(zoneLists, fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), (zones, k) => {
        const count = k === undefined ? 'auto' : 2 * k + 1;
        const t = deriveTopology(specWith(zones, count));
        const placed = placeMasters(zones, t.masters);
        for (const z of t.zones) {
          // brute force: kill every master in the zone one by one and count who is left
          let alive = t.masters;
          for (let i = 0; i < (placed.get(z.name) ?? 0); i++) alive--;
          expect(z.survivesLoss).toBe(alive >= quorumOf(t.masters));
          expect(z.survivesLoss).toBe(alive > t.masters / 2);
        }
        expect(t.survivesAnyZoneLoss).toBe(t.zones.every((z) => z.survivesLoss));
        if (zones.length >= 3 && count === 'auto') expect(t.survivesAnyZoneLoss).toBe(true);
      }),
    );
  });

  it('placement never differs by more than one master between zones', () => {
    fc.assert(
      fc.property(zoneLists, fc.integer({ min: 1, max: 15 }), (zones, m) => {
        const counts = [...placeMasters(zones, m).values()];
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
    );
  });
});
