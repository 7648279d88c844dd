import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/action/engine.js';
import {
  assessStatus,
  countPerZone,
  statusReport,
  statusText,
  statusVerdict,
} from '../../src/action/status-report.js';
import { parseSpec } from '../../src/cluster-spec/load.js';
import { deriveTopology } from '../../src/cluster-spec/topology.js';
import { MINIMAL_SPEC } from '../support/spec-text.js';

const zones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const masters = zones.map((zone, i) => ({
  instanceId: `i-${i}`,
  zone,
  lifecycleState: 'InService',
  health: 'Healthy',
}));
const pool = [
  { instanceId: 'i-p0', zone: 'eu-west-1a', lifecycleState: 'Warmed:Stopped', health: 'Healthy' },
  { instanceId: 'i-p1', zone: 'eu-west-1a', lifecycleState: 'Warmed:Pending:Wait', health: 'Healthy' },
];

describe('status with a warm pool', () => {
  it('counts pool instances apart from the masters of their zone', () => {
    expect(countPerZone(zones, [...masters, ...pool])).toEqual({
      mastersPerZone: { 'eu-west-1a': 1, 'eu-west-1b': 1, 'eu-west-1c': 1 },
      warmPoolPerZone: { 'eu-west-1a': 2, 'eu-west-1b': 0, 'eu-west-1c': 0 },
    });
  });

  it('says nothing of a pool when there is none', () => {
    expect(countPerZone(zones, masters)).toEqual({
      mastersPerZone: { 'eu-west-1a': 1, 'eu-west-1b': 1, 'eu-west-1c': 1 },
    });
  });

  const healthyWithPool = (extra: Partial<ClusterStatus> = {}): ClusterStatus => ({
    cluster: 'demo',
    region: 'eu-west-1',
    expectedMasters: 3,
    quorum: 2,
    ...countPerZone(zones, [...masters, ...pool]),
    instances: [...masters, ...pool],
    targets: masters.map((m) => ({ instanceId: m.instanceId, health: 'healthy' })),
    etcd: {
      members: masters.map((m, i) => ({
        id: String(100 + i),
        name: m.instanceId,
        isLearner: false,
        healthy: true,
        leader: i === 0,
      })),
      healthyVoters: 3,
    },
    lastReconcile: { at: '2026-01-01T00:00:00Z', result: 'ok' },
    statusAt: '2026-01-01T00:00:00Z',
    ...extra,
  });
  const assess = (s: ClusterStatus) => {
    const loaded = parseSpec(MINIMAL_SPEC);
    if (!loaded.ok) throw new Error('MINIMAL_SPEC does not load');
    return assessStatus(s, deriveTopology(loaded.spec));
  };

  it('calls a cluster with every master healthy HEALTHY, whatever its pool instances do', () => {
    const s = healthyWithPool();
    const v = statusVerdict(s, assess(s), Date.parse('2026-01-01T00:00:30Z'));
    expect(v.reasons).toEqual([]);
    expect(v).toMatchObject({ state: 'healthy', exitCode: 0 });
  });

  it('still counts a master that is not in service, with a pool beside it', () => {
    const s = healthyWithPool({
      instances: [...masters.slice(0, 2), { ...masters[2]!, lifecycleState: 'Pending:Wait' }, ...pool],
    });
    const v = statusVerdict(s, assess(s), Date.parse('2026-01-01T00:00:30Z'));
    expect(v.state).toBe('degraded');
    expect(v.reasons.join('\n')).toContain('i-2 Pending:Wait/Healthy');
    expect(v.reasons.join('\n')).not.toContain('i-p0');
    expect(v.reasons.join('\n')).toContain('2 of 3 masters in service');
  });

  it('says when the pool could not be read', () => {
    const why =
      'warm pool of demo-masters not read (its instances are not seen this pass): autoscaling:DescribeWarmPool is denied';
    const a = assess(healthyWithPool({ readWarnings: [why] }));
    expect(a.warnings).toContain(why);
  });

  it('shows the pool in its own column of the terminal and Markdown reports', () => {
    // No etcd facts and no targets: the tables still show every zone's masters and pool.
    const s = healthyWithPool({ targets: [], etcd: undefined, lastReconcile: undefined });
    const a = assess(s);
    const text = statusText(s, a, statusVerdict(s, a, 0), 0, '/tripod/demo/status');
    const row = text.split('\n').find((l) => l.trim().startsWith('eu-west-1a')) ?? '';
    expect(text).toMatch(/zone\s+masters\s+healthy voters\s+survives its loss\s+warm pool/);
    expect(row.trim().split(/\s+/)).toEqual(['eu-west-1a', '1', '1', 'yes', '2']);
    expect(statusReport(s, a)).toContain('| eu-west-1a | 1 | 1 | yes | 2 |');
  });
});
