/**
 * The warm pool's instances (Warmed:*). They prepare (packages, images) and then wait, stopped or
 * running, until the group takes one (it then launches as Pending:Wait and joins like any new
 * master, joins.ts). No etcd action is ever taken for them and they are never counted as masters.
 *
 * Their warm-up hook (Warmed:Pending:Wait) is completed CONTINUE by the node itself once its
 * prepare is done (master.sh master_prepare, complete_lifecycle): only the node knows when its
 * packages and images are in, and completing earlier would have Auto Scaling stop it mid-install.
 * The reconciler's part is the failure: a pool instance whose prepare failed (its own boot-failed
 * record) is abandoned at once, so the pool refills instead of keeping a broken instance until the
 * heartbeat timeout's default result.
 *
 * A pool instance leaving the pool for good (a smaller or deleted pool, an instance refresh, which
 * replaces the pool's instances after the group's) waits in Warmed:Terminating:Wait on the group's
 * terminating hook. Unanswered, each would wait out the hook's heartbeat timeout before its default
 * result applies (a pool delete PendingDelete, a refresh stalled, for that long per instance), so the
 * reconciler completes it CONTINUE like any terminating master's (terminating.ts letGo): a pool
 * instance runs no etcd and has no member. One with a member cannot normally happen (joins are only
 * published to Pending:Wait masters, and the pool is put without ReuseOnScaleIn, so no master ever
 * goes back into it); if it did, it is held and its member removed first, as for a master.
 */
import { isWarm } from '../roster.js';
import type { Pass } from './pass.js';
import { letGo } from './terminating.js';

export function warmPhase(p: Pass, established: boolean): void {
  for (const inst of p.instances.filter((i) => isWarm(i))) {
    p.handled.add(inst.instanceId);
    if (inst.lifecycleState === 'Warmed:Pending:Wait' && inst.bootFailed) {
      p.complete(inst.instanceId, 'launching', 'ABANDON', 'its warm-pool prepare failed');
    }
    if (inst.lifecycleState === 'Warmed:Terminating:Wait') {
      letGo(p, inst, established, 'a warm pool instance leaving the pool: no etcd member');
    }
  }
}
