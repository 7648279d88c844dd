/**
 * The status document each pass publishes to SSM (`statusParameter`): members, leader, masters per
 * zone, targets, the last actions with their reasons and outcomes, what the pass waits for, the
 * quorum margin and the memory the next pass starts from. Pure builder; serialised under SSM's
 * standard-tier limit (4 KB) by trimming the history first.
 */
import { type ActionResult, describeAction } from './actions.js';
import type { ClusterConditions, Decision } from './decision.js';
import type { ObservedState, ReconcilerMemory } from './observed.js';
import type { WaitReason } from './phases/pass.js';
import { isHealthyVoter } from './quorum.js';

export const STATUS_VERSION = 1;
/** SSM standard-tier parameters hold at most 4,096 characters. */
export const STATUS_MAX_CHARS = 4096;
const HISTORY = 10;

export interface StatusMember {
  id: string;
  name: string;
  learner?: true;
  healthy: boolean;
  leader?: true;
}

export interface StatusAction {
  /** ISO time of the pass. */
  at: string;
  action: string;
  outcome: ActionResult['outcome'];
  detail?: string;
}

export interface StatusDocument {
  version: typeof STATUS_VERSION;
  cluster: string;
  at: string;
  conditions: ClusterConditions;
  members: StatusMember[];
  /** zone -> `instanceId:lifecycleState` of its masters. */
  zones: Record<string, string[]>;
  targets: string[];
  waits: string[];
  /** The reason constants of the waits (phases/pass.ts WAIT), each once: what the upgrade preflight and metrics read. */
  blocked?: WaitReason[];
  /** Most recent last. */
  lastActions: StatusAction[];
  memory: ReconcilerMemory;
}

const detailOf = (r: ActionResult): string | undefined =>
  r.outcome === 'skipped' ? r.reason : r.outcome === 'failed' ? r.error : r.detail;

export function buildStatus(
  observed: ObservedState,
  decision: Decision,
  results: readonly ActionResult[],
  now: number,
  previous?: StatusDocument,
): StatusDocument {
  const at = new Date(now).toISOString();
  const zones: Record<string, string[]> = {};
  for (const i of [...observed.group.instances].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    zones[i.zone] = [...(zones[i.zone] ?? []), `${i.instanceId}:${i.lifecycleState}`];
  }
  // Successful heartbeats would crowd out the history: only their failures are kept.
  const notable = results.filter((r) => r.action.kind !== 'heartbeat-lifecycle' || r.outcome !== 'ok');
  const thisPass: StatusAction[] = notable.map((r) => {
    const detail = detailOf(r);
    return { at, action: describeAction(r.action), outcome: r.outcome, ...(detail ? { detail } : {}) };
  });
  return {
    version: STATUS_VERSION,
    cluster: observed.cluster,
    at,
    conditions: decision.conditions,
    members: observed.etcd.members.map((m) => ({
      id: m.id,
      name: m.name,
      ...(m.isLearner ? { learner: true as const } : {}),
      healthy: isHealthyVoter(m, observed.etcd),
      ...(m.id === observed.etcd.leaderId ? { leader: true as const } : {}),
    })),
    zones,
    targets: observed.targets.map((t) => `${t.instanceId}:${t.health}`).sort(),
    waits: decision.waits,
    blocked: [...new Set(decision.blocked.map((w) => w.reason))].sort(),
    lastActions: [...(previous?.lastActions ?? []), ...thisPass].slice(-HISTORY),
    memory: decision.memory,
  };
}

const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** JSON within `max` characters: drops the oldest actions, then clips texts; memory is never dropped. */
export function serializeStatus(doc: StatusDocument, max = STATUS_MAX_CHARS): string {
  let d: StatusDocument = doc;
  let text = JSON.stringify(d);
  while (text.length > max && d.lastActions.length > 0) {
    d = { ...d, lastActions: d.lastActions.slice(1) };
    text = JSON.stringify(d);
  }
  if (text.length > max) {
    d = { ...d, waits: d.waits.slice(0, 5).map((w) => clip(w, 120)), targets: d.targets.slice(0, 20) };
    text = JSON.stringify(d);
  }
  if (text.length > max) {
    d = { ...d, waits: [], zones: {} };
    text = JSON.stringify(d);
  }
  return text;
}

/** The previous document, or undefined when it is missing, malformed or of another version. */
export function parseStatus(text: string): StatusDocument | undefined {
  try {
    const d = JSON.parse(text) as StatusDocument;
    if (d?.version !== STATUS_VERSION || typeof d.memory?.unhealthySince !== 'object') return undefined;
    return { ...d, lastActions: Array.isArray(d.lastActions) ? d.lastActions : [] };
  } catch {
    return undefined;
  }
}
