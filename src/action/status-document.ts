/**
 * Reads the reconciler's status document (`/tripod/<cluster>/status`) into what `status` shows.
 * Tolerant: a field it does not know is ignored, a missing one is "unknown"; it never shows secrets
 * (only member ids, names, roles, health, and the last result).
 */
import type { ClusterStatus } from './engine.js';

type Doc = Record<string, unknown>;
const rec = (v: unknown): Doc | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : undefined;
const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;

export function readStatusDocument(
  text: string | undefined,
): Pick<ClusterStatus, 'etcd' | 'lastReconcile' | 'statusAt' | 'recentActions'> | undefined {
  if (!text) return undefined;
  let doc: Doc | undefined;
  try {
    doc = rec(JSON.parse(text));
  } catch {
    return {
      etcd: undefined,
      lastReconcile: { at: 'unknown', result: 'unreadable status document (not JSON)' },
    };
  }
  if (!doc) return undefined;
  const etcd = rec(doc.etcd) ?? doc;
  const leaderId = str(etcd.leaderId);
  const rawMembers = Array.isArray(etcd.members) ? etcd.members : undefined;
  const members = rawMembers?.map((m) => {
    const r = rec(m) ?? {};
    const status = rec(r.status);
    const healthy =
      typeof r.healthy === 'boolean'
        ? r.healthy
        : status
          ? status.reachable === true && !(Array.isArray(status.alarms) && status.alarms.length > 0)
          : false;
    const id = str(r.id) ?? '';
    return {
      id,
      name: str(r.name) ?? '',
      isLearner: r.isLearner === true || r.learner === true,
      healthy,
      leader: r.leader === true || (leaderId !== undefined && id === leaderId),
    };
  });
  // The reconciler's document (heal/status.ts): `at`, `conditions.converged`, `waits`, `lastActions`.
  const conditions = rec(doc.conditions);
  const waits = Array.isArray(doc.waits) ? doc.waits.map(str).filter(Boolean) : [];
  const actions = Array.isArray(doc.lastActions) ? doc.lastActions.map(rec).filter(Boolean) : [];
  const lastAction = actions.at(-1);
  const last = rec(doc.lastReconcile) ?? doc;
  const at = str(last.at) ?? str(last.time) ?? str(doc.updatedAt);
  let result = str(last.result) ?? str(last.outcome);
  if (!result && conditions) {
    result =
      conditions.converged === true
        ? 'converged'
        : waits.length
          ? `not converged, waiting: ${waits.join('; ')}`
          : 'not converged';
  }
  let detail = str(last.detail) ?? str(last.reason) ?? str(last.error);
  if (!detail && lastAction) {
    const d = str(lastAction.detail);
    detail = `last action ${str(lastAction.action) ?? '?'} at ${str(lastAction.at) ?? '?'}: ${str(lastAction.outcome) ?? '?'}${d ? ` (${d})` : ''}`;
  }
  const statusAt = str(doc.at) ?? str(doc.updatedAt);
  const recentActions = actions.map((a) => {
    const d = str(a!.detail);
    return {
      at: str(a!.at) ?? 'unknown',
      action: str(a!.action) ?? '?',
      outcome: str(a!.outcome) ?? '?',
      ...(d ? { detail: d } : {}),
    };
  });
  return {
    ...(statusAt ? { statusAt } : {}),
    recentActions,
    etcd: members
      ? { members, healthyVoters: members.filter((m) => m.healthy && !m.isLearner).length }
      : undefined,
    lastReconcile:
      at || result
        ? { at: at ?? 'unknown', result: result ?? 'unknown', ...(detail ? { detail } : {}) }
        : undefined,
  };
}
