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

  it('shows the pool in its own column of the terminal and Markdown reports', () => {
    const s: ClusterStatus = {
      cluster: 'demo',
      region: 'eu-west-1',
      expectedMasters: 3,
      quorum: 2,
      ...countPerZone(zones, [...masters, ...pool]),
      instances: [...masters, ...pool],
      targets: [],
      etcd: undefined,
      lastReconcile: undefined,
    };
    const loaded = parseSpec(MINIMAL_SPEC);
    if (!loaded.ok) throw new Error('MINIMAL_SPEC does not load');
    const a = assessStatus(s, deriveTopology(loaded.spec));
    const text = statusText(s, a, statusVerdict(s, a, 0), 0, '/tripod/demo/status');
    const row = text.split('\n').find((l) => l.trim().startsWith('eu-west-1a')) ?? '';
    expect(text).toMatch(/zone\s+masters\s+healthy voters\s+survives its loss\s+warm pool/);
    expect(row.trim().split(/\s+/)).toEqual(['eu-west-1a', '1', '1', 'yes', '2']);
    expect(statusReport(s, a)).toContain('| eu-west-1a | 1 | 1 | yes | 2 |');
  });
});
