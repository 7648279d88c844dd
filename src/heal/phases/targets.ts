/**
 * Phase 7: the API target group holds exactly the running masters whose API is ready; and the join
 * parameters of instances that are gone are forgotten (a few per pass: SSM calls stay bounded).
 */
import { isGone } from '../roster.js';
import type { Pass } from './pass.js';

const MAX_JOIN_DELETES_PER_PASS = 5;

export function targetsPhase(p: Pass): void {
  for (const inst of p.instances) {
    if (inst.lifecycleState === 'InService' && inst.apiReady && !p.registered.has(inst.instanceId)) {
      p.actions.push({
        kind: 'register-target',
        instanceId: inst.instanceId,
        reason: 'InService master with a ready API is missing',
      });
    }
  }
  const instanceById = new Map(p.instances.map((i) => [i.instanceId, i]));
  for (const t of [...p.observed.targets].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const inst = instanceById.get(t.instanceId);
    const keep =
      inst !== undefined &&
      (inst.lifecycleState === 'InService' ||
        inst.lifecycleState === 'Pending:Wait' ||
        inst.lifecycleState === 'Pending:Proceed');
    if (!keep)
      p.deregister(
        t.instanceId,
        inst ? `the instance is ${inst.lifecycleState}` : 'not a master of the group',
      );
  }
}

export function forgetJoinsPhase(p: Pass): void {
  const instanceById = new Map(p.instances.map((i) => [i.instanceId, i]));
  const gone = Object.keys(p.observed.joins)
    .filter((id) => isGone(instanceById.get(id)))
    .sort()
    .slice(0, MAX_JOIN_DELETES_PER_PASS);
  for (const instanceId of gone) {
    const i = instanceById.get(instanceId);
    p.actions.push({
      kind: 'delete-join',
      instanceId,
      reason: i ? `the instance is ${i.lifecycleState}` : 'the instance left the group',
    });
  }
}
