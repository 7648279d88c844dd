/**
 * What an upgrade tells its user: one progress line per change it sees (instance, zone, lifecycle,
 * member state, quorum margin, elapsed) and, at the end, the table of old -> new instances.
 */
import type { StatusDocument } from '../heal/status.js';
import type { GroupView, UpgradeInstance } from './model.js';

export const formatElapsed = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `+${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** The etcd member state of a master, from the reconciler's status document. */
export function memberState(status: StatusDocument | undefined, instanceId: string): string {
  const m = status?.members.find((x) => x.name === instanceId);
  if (!m) return 'no member';
  if (m.learner) return 'learner';
  return `${m.healthy ? 'healthy' : 'unhealthy'} voter${m.leader ? ' (leader)' : ''}`;
}

export const marginText = (status: StatusDocument | undefined): string =>
  status
    ? `quorum margin ${status.conditions.quorumMargin} (${status.conditions.healthyVoters}/${status.conditions.voters} healthy, quorum ${status.conditions.quorum})`
    : 'quorum margin unknown';

/** Lines for what changed in a group between two looks (instances that came, changed state or went). */
export function instanceChanges(
  role: 'masters' | 'workers',
  before: GroupView | undefined,
  after: GroupView,
  status: StatusDocument | undefined,
): string[] {
  const lines: string[] = [];
  const prev = new Map((before?.instances ?? []).map((i) => [i.instanceId, i]));
  const member = (i: UpgradeInstance) =>
    role === 'masters' ? `, etcd ${memberState(status, i.instanceId)}` : '';
  for (const i of after.instances) {
    const p = prev.get(i.instanceId);
    if (!p)
      lines.push(
        `${role}: ${i.instanceId} (${i.zone}, v${i.version}) appeared: ${i.lifecycleState}${member(i)}`,
      );
    else if (p.lifecycleState !== i.lifecycleState || p.health !== i.health)
      lines.push(
        `${role}: ${i.instanceId} (${i.zone}, v${i.version}) ${p.lifecycleState} -> ${i.lifecycleState}${i.health !== 'Healthy' ? ` [${i.health}]` : ''}${member(i)}`,
      );
  }
  const now = new Set(after.instances.map((i) => i.instanceId));
  for (const p of prev.values())
    if (!now.has(p.instanceId)) lines.push(`${role}: ${p.instanceId} (${p.zone}, v${p.version}) is gone`);
  return lines;
}

export interface Replacement {
  role: 'masters' | 'workers';
  old: { instanceId: string; zone: string; version: string } | undefined;
  new: { instanceId: string; zone: string; version: string } | undefined;
}

/**
 * Pairs the instances that left with the ones that came (same zone first, then in order): the
 * old -> new table. Unpaired rows show `-` on the missing side.
 */
export function pairReplacements(
  role: 'masters' | 'workers',
  gone: UpgradeInstance[],
  came: UpgradeInstance[],
): Replacement[] {
  const left = [...gone];
  const rows: Replacement[] = [];
  const pick = (i: UpgradeInstance) => ({ instanceId: i.instanceId, zone: i.zone, version: i.version });
  const rest: UpgradeInstance[] = [];
  for (const n of came) {
    const k = left.findIndex((o) => o.zone === n.zone);
    if (k >= 0) rows.push({ role, old: pick(left.splice(k, 1)[0] as UpgradeInstance), new: pick(n) });
    else rest.push(n);
  }
  for (const n of rest) {
    const o = left.shift();
    rows.push({ role, old: o ? pick(o) : undefined, new: pick(n) });
  }
  for (const o of left) rows.push({ role, old: pick(o), new: undefined });
  return rows;
}

export function replacementTable(rows: readonly Replacement[]): string {
  const cell = (x: Replacement['old']) => (x ? `${x.instanceId} (${x.zone}, v${x.version})` : '-');
  return [
    '| role | old instance | new instance |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.role} | ${cell(r.old)} | ${cell(r.new)} |`),
  ].join('\n');
}
