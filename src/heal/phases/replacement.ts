/**
 * Phase 8: a running master whose member stays unhealthy (or that has no member) is marked Unhealthy
 * so its group replaces it; only the reconciler does this for etcd's sake (the node watchdog only
 * restarts services). One replacement at a time, never while quorum is lost, never for a full
 * database (NOSPACE: the new master would sync the same database), and at most REPLACEMENT_LIMIT in
 * REPLACEMENT_WINDOW_MS (a loop where every new master fails the same way needs a person).
 *
 * Finding 4: a terminating master whose removal waits on quorum arithmetic is not "a replacement in
 * progress": it waits for this very repair. Replacing the dead member first (then removing the
 * terminating one) is the safe order, as Cluster API's control plane replaces the unhealthy machine
 * before it scales down.
 */
import { quorumOf } from '../quorum.js';
import { isGone } from '../roster.js';
import { label, type Pass, WAIT } from './pass.js';

/** Memory key for an InService master that has no etcd member at all. */
export const memberlessKey = (instanceId: string) => `instance:${instanceId}`;

export const REPLACEMENT_WINDOW_MS = 3_600_000;
/** Replacements per window: M (every master once), at least 2. */
export const replacementLimit = (expectedMasters: number) => Math.max(2, expectedMasters);

/** The replacement times still inside the window (what the memory keeps). */
export const recentReplacements = (times: readonly number[] | undefined, now: number): number[] =>
  (times ?? []).filter((t) => now - t < REPLACEMENT_WINDOW_MS);

export function replacementPhase(p: Pass, established: boolean): void {
  if (!p.reachable || !established || p.observed.restore) return;
  // In progress: an instance marked Unhealthy and not gone yet, a learner joining, this pass's
  // change, or a terminating master (unless its removal waits on quorum, see above).
  const replacing =
    p.instances.some((i) =>
      i.lifecycleState === 'Terminating:Wait'
        ? !p.removalBlocked.has(i.instanceId) // whatever its health: it is leaving
        : i.health === 'Unhealthy' && !isGone(i),
    ) ||
    p.learners.length > 0 ||
    p.change !== undefined;
  const quorumHeld = p.healthyVoters.length >= quorumOf(p.voters.length);
  const recent = recentReplacements(p.memory.replacements, p.now);
  for (const inst of p.instances.filter((i) => i.lifecycleState === 'InService' && i.health === 'Healthy')) {
    const m = p.roster.memberOf(inst);
    const key = m ? m.id : memberlessKey(inst.instanceId);
    if (m && (m.isLearner || p.healthy(m))) continue;
    if (m && p.problem(m) === 'nospace') {
      p.wait(
        WAIT.databaseFull,
        `member ${label(m)} has a NOSPACE alarm: not replaced (a new master would sync the same database); compact and defragment etcd, then disarm the alarm`,
      );
      continue;
    }
    if (!p.longUnhealthy(key)) continue;
    const what = m ? `member ${label(m)} unhealthy (${p.problem(m)})` : 'no etcd member';
    if (replacing) {
      p.wait(WAIT.replacing, `replace ${inst.instanceId} (${what}): after the replacement in progress`);
    } else if (!quorumHeld) {
      p.wait(
        WAIT.quorumLost,
        `replace ${inst.instanceId} (${what}): quorum is lost, replacing could lose data`,
      );
    } else if (recent.length >= replacementLimit(p.config.expectedMasters)) {
      p.wait(
        WAIT.replacementLimit,
        `replace ${inst.instanceId} (${what}): ${recent.length} masters replaced in the last ${REPLACEMENT_WINDOW_MS / 60_000} min, the limit: find why new masters fail before more are replaced`,
      );
    } else {
      p.actions.push({
        kind: 'set-unhealthy',
        instanceId: inst.instanceId,
        reason: `${what} for more than ${Math.round(p.config.memberUnhealthyMs / 1000)} s`,
      });
      p.memory.replacements = [...recent, p.now];
      return; // one replacement at a time
    }
  }
}
