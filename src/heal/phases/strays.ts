/**
 * Phase 2 + 3: members with no live instance (dead before new), then stray learners and unnamed
 * members; and a voter unhealthy past the threshold whose instance is marked Unhealthy (its
 * replacement is under way). A healthy member whose instance looks gone is left alone: a partition
 * heals. A member whose only trouble is a full database (NOSPACE) is not removed for it.
 */
import type { ObservedMember } from '../observed.js';
import { isStarted } from '../quorum.js';
import { isGone } from '../roster.js';
import { label, type Pass, WAIT } from './pass.js';
import { removeLeavingMember } from './terminating.js';

export function straysPhase(p: Pass): void {
  if (!p.reachable) return;
  const strays: Array<{ m: ObservedMember; why: string }> = [];
  for (const m of p.members) {
    const inst = p.roster.instanceOf(m);
    if (inst?.lifecycleState === 'Terminating:Wait') continue; // the terminating phase
    if (isGone(inst)) {
      const why = inst ? `its instance ${inst.instanceId} is ${inst.lifecycleState}` : 'it has no instance';
      if (p.healthy(m))
        p.wait(WAIT.healthyWithoutInstance, `member ${label(m)} is healthy but ${why}: left alone`);
      else strays.push({ m, why: m.isLearner || !isStarted(m) ? `stray learner: ${why}` : why });
    } else if (
      inst &&
      inst.health === 'Unhealthy' &&
      !m.isLearner &&
      !p.healthy(m) &&
      p.problem(m) !== 'nospace' &&
      p.longUnhealthy(m.id)
    ) {
      strays.push({
        m,
        why: `unhealthy past the threshold and its instance ${inst.instanceId} is marked Unhealthy`,
      });
    }
  }
  strays.sort((a, b) => Number(a.m.isLearner) - Number(b.m.isLearner) || a.m.id.localeCompare(b.m.id));
  for (const { m, why } of strays) {
    // A stray that still answers may lead: it hands leadership over first, like a leaving master.
    removeLeavingMember(p, p.roster.instanceOf(m)?.instanceId ?? m.id, m, why, `remove ${label(m)}`);
  }
}
