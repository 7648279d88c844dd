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
 */
import { isWarm } from '../roster.js';
import type { Pass } from './pass.js';

export function warmPhase(p: Pass): void {
  for (const inst of p.instances.filter((i) => isWarm(i))) {
    p.handled.add(inst.instanceId);
    if (inst.lifecycleState === 'Warmed:Pending:Wait' && inst.bootFailed) {
      p.complete(inst.instanceId, 'launching', 'ABANDON', 'its warm-pool prepare failed');
    }
  }
}
