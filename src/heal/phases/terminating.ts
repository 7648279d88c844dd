/**
 * Phase 1: Terminating:Wait masters. Deregister, move leadership off, remove the member, and only
 * then let the instance go (CONTINUE). The hook of a master whose member may still vote is HELD
 * (heartbeated) every pass until that member is gone, whatever else happens: the removal may be
 * unsafe, skipped or failed by the executor, or etcd may not answer the reconciler at all (finding 1
 * and 3: a hook that times out CONTINUEs, and etcd's data is on the instance's root volume).
 */
import type { ObservedInstance, ObservedMember } from '../observed.js';
import { label, type Pass, WAIT, type WaitReason } from './pass.js';

export function terminatingPhase(p: Pass, established: boolean, handledByRestore: ReadonlySet<string>): void {
  const leaving = p.instances.filter(
    (i) => i.lifecycleState === 'Terminating:Wait' && !handledByRestore.has(i.instanceId),
  );
  // Unhealthy members first: Cluster API's order (repair the broken before letting the healthy go).
  const ordered = [...leaving].sort((a, b) => {
    const ma = p.reachable ? p.roster.memberOf(a) : undefined;
    const mb = p.reachable ? p.roster.memberOf(b) : undefined;
    return Number(ma !== undefined && p.healthy(ma)) - Number(mb !== undefined && p.healthy(mb));
  });
  for (const inst of ordered) letGo(p, inst, established);
}

/**
 * One instance waiting in a terminating hook (Terminating:Wait, or a warm pool instance's
 * Warmed:Terminating:Wait, phases/warm.ts): deregistered, then let go (CONTINUE) once it has no
 * etcd member; with one (or etcd unreadable in an established cluster) it is held and the member
 * removed first.
 */
export function letGo(
  p: Pass,
  inst: ObservedInstance,
  established: boolean,
  noMember = 'its etcd member is removed',
): void {
  const id = inst.instanceId;
  p.deregister(id, 'the instance is terminating');
  if (!p.reachable) {
    if (!established) {
      p.complete(id, 'terminating', 'CONTINUE', 'terminating before any cluster existed');
      return;
    }
    // Nothing is known about its member: it may be a voter. Held until etcd answers again.
    p.hold(id, 'terminating', 'etcd unreachable: its member may still vote');
    p.wait(WAIT.etcdUnreachable, `${id} terminating: etcd unreachable, its member cannot be removed (held)`);
    return;
  }
  const m = p.roster.memberOf(inst);
  if (!m) {
    p.complete(id, 'terminating', 'CONTINUE', noMember);
    return;
  }
  // From here on the member exists: the hook is held this pass whatever the removal's fate.
  p.hold(id, 'terminating', `member ${label(m)} not removed yet`);
  const blocked = removeLeavingMember(p, id, m, `its instance ${id} is terminating`, `${id} terminating`);
  if (blocked === WAIT.quorum) p.removalBlocked.add(id);
}

/**
 * Removes the member of a master that is leaving (terminating, or a failed launch): a live leader
 * hands leadership to the most up-to-date healthy voter first; a dead leader cannot (the move would
 * fail) and etcd elects a new one by itself. Returns what it waits on (undefined: the removal is the
 * pass's change).
 */
export function removeLeavingMember(
  p: Pass,
  instanceId: string,
  m: ObservedMember,
  why: string,
  subject: string,
): WaitReason | undefined {
  const leaderDead = m.id === p.view.leaderId && !m.status.reachable;
  if (m.id === p.view.leaderId && !leaderDead) {
    const successor = p.healthyVoters
      .filter(
        (v) =>
          v.id !== m.id &&
          p.roster.instanceOf(v)?.lifecycleState !== 'Terminating:Wait' &&
          p.roster.instanceOf(v)?.instanceId !== instanceId,
      )
      .sort((a, b) => (b.status.raftIndex ?? 0) - (a.status.raftIndex ?? 0) || a.id.localeCompare(b.id))[0];
    if (!successor) {
      p.wait(WAIT.noSuccessor, `${subject}: it leads etcd and no healthy voter can take over`);
      return WAIT.noSuccessor;
    }
    if (p.change !== undefined) {
      // No leader move for a removal that cannot happen this pass.
      p.wait(WAIT.changeTaken, `remove ${label(m)}: after this pass's membership change (${p.change})`);
      return WAIT.changeTaken;
    }
    p.actions.push({
      kind: 'move-leader',
      fromMemberId: m.id,
      toMemberId: successor.id,
      reason: `leader ${instanceId} is leaving`,
    });
  }
  return p.tryChange(
    { kind: 'remove', memberId: m.id },
    {
      kind: 'remove-member',
      memberId: m.id,
      name: m.name,
      reason: `${why}${leaderDead ? ' (a dead leader: no leader move)' : ''}`,
    },
    `remove ${label(m)}`,
  );
}
