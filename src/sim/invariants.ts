/**
 * The safety and liveness properties a simulation checks. Safety is checked on every membership
 * request the reconciler makes (before etcd's own checks, so a wrong decision is caught even when
 * etcd would refuse it) and after every event; convergence is checked once the faults stop.
 */
import type { SimCloud } from './cloud.js';
import type { MembershipRequest, ModelMember } from './etcd-model.js';

export interface Violation {
  at: number;
  rule: string;
  detail: string;
}

/** How long an instance must have been gone before adding a member while its voter remains is a decision error. */
const DEAD_KNOWN_MS = 60_000;

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** instance id -> when it was first seen gone (Terminating*, terminated, or out of the group). */
  private readonly goneSince = new Map<string, number>();

  constructor(private readonly cloud: SimCloud) {
    cloud.etcd.onRequest = (r) => this.onRequest(r);
  }

  private violate(rule: string, detail: string): void {
    const at = this.cloud.k.clock.elapsed();
    if (this.violations.some((v) => v.rule === rule && v.detail === detail)) return;
    this.violations.push({ at, rule, detail });
    this.cloud.k.log('VIOLATION', `${rule}: ${detail}`);
  }

  private instanceOf(m: ModelMember) {
    return this.cloud.ec2.byAddress(m.ip);
  }

  /** The member's instance is terminating or gone (removing it is expected). */
  private leaving(m: ModelMember): boolean {
    const inst = this.instanceOf(m);
    if (!inst || inst.state === 'terminated') return true;
    const gm = this.cloud.group.members.get(inst.id);
    return !gm || gm.lifecycle.startsWith('Terminat') || gm.health === 'Unhealthy';
  }

  private onRequest(r: MembershipRequest): void {
    const etcd = this.cloud.etcd;
    const voters = etcd.voters();
    const healthy = new Set(etcd.healthyVoters().map((v) => v.id));
    const q = etcd.quorum(voters.length);
    const hadQuorum = healthy.size >= q;
    if (r.kind === 'remove') {
      const target = etcd.members.get(r.memberId);
      if (!target || target.isLearner) return;
      const healthyAfter = healthy.size - (healthy.has(target.id) ? 1 : 0);
      if (hadQuorum && healthyAfter < etcd.quorum(voters.length - 1)) {
        this.violate(
          'quorum',
          `removing ${target.id} (${target.name}) leaves ${healthyAfter} healthy of ${voters.length - 1} voters (quorum ${etcd.quorum(voters.length - 1)})`,
        );
      }
      if (healthy.has(target.id) && !this.leaving(target)) {
        this.violate(
          'healthy-voter-removed',
          `removing healthy voter ${target.id} (${target.name}) whose instance is not terminating`,
        );
      }
    } else if (r.kind === 'promote') {
      const target = etcd.members.get(r.memberId);
      if (!target?.isLearner) return;
      const inSync =
        target.running &&
        target.connectedSince !== undefined &&
        etcd.indexOf(target) >= etcd.commitIndex() * 0.9;
      const healthyAfter = healthy.size + (inSync ? 1 : 0);
      if (hadQuorum && healthyAfter < etcd.quorum(voters.length + 1)) {
        this.violate(
          'quorum',
          `promoting ${target.id} leaves ${healthyAfter} healthy of ${voters.length + 1} voters`,
        );
      }
    } else {
      if (etcd.learners().length > 0) {
        this.violate(
          'one-change-in-flight',
          `adding ${r.peerURL} while learner ${etcd.learners()[0]?.id} is not promoted`,
        );
      }
      const now = this.cloud.k.now();
      for (const v of voters) {
        const inst = this.instanceOf(v);
        const since = inst ? this.goneSince.get(inst.id) : 0;
        if (!healthy.has(v.id) && since !== undefined && now - since >= DEAD_KNOWN_MS) {
          this.violate(
            'remove-dead-first',
            `adding ${r.peerURL} while voter ${v.id} (${v.name}) of a gone instance is still a member`,
          );
        }
      }
    }
  }

  /** After every event. */
  check(): void {
    const now = this.cloud.k.now();
    for (const inst of this.cloud.ec2.instances.values()) {
      if (this.goneSince.has(inst.id)) continue;
      const gm = this.cloud.group.members.get(inst.id);
      if (inst.state === 'terminated' || !gm || gm.lifecycle.startsWith('Terminat'))
        this.goneSince.set(inst.id, now);
    }
    const etcd = this.cloud.etcd;
    if (etcd.learners().length > 1) this.violate('one-learner', `${etcd.learners().length} learners`);
    const unstarted = [...etcd.members.values()].filter((m) => !m.started);
    if (unstarted.length > 1)
      this.violate('one-change-in-flight', `${unstarted.length} members added and not started`);
    if (etcd.secondSeed) this.violate('single-cluster', etcd.secondSeed);
  }

  /** Why the cluster is not (yet) converged, or undefined when it is. */
  notConverged(): string | undefined {
    const c = this.cloud;
    const M = c.config.expectedMasters;
    const etcd = c.etcd;
    if (!etcd.leaderId) return 'etcd has no leader';
    const voters = etcd.voters();
    if (voters.length !== M) return `${voters.length} voters, want ${M}`;
    if (etcd.learners().length > 0) return 'a learner is left';
    const healthy = etcd.healthyVoters();
    if (healthy.length !== M) return `${healthy.length} of ${M} voters healthy`;
    const group = c.group.describe();
    if (group.instances.length !== M) return `${group.instances.length} instances in the group, want ${M}`;
    const pending = c.group.pendingLifecycle();
    if (pending.length > 0) return `lifecycle action pending for ${pending.map((p) => p.id).join(', ')}`;
    const inService = group.instances.filter(
      (i) => i.lifecycleState === 'InService' && i.health === 'Healthy',
    );
    if (inService.length !== M) return `${inService.length} of ${M} instances InService and Healthy`;
    const ips = new Set(inService.map((i) => i.privateIp));
    const stray = voters.find((v) => !ips.has(v.ip));
    if (stray) return `voter ${stray.id} is not on an InService master`;
    const registered = new Set(c.apiTargets.registered());
    for (const i of inService)
      if (!registered.has(i.instanceId)) return `${i.instanceId} is InService but not registered`;
    for (const id of registered)
      if (!inService.some((i) => i.instanceId === id))
        return `${id} is registered but not an InService master`;
    const perZone = c.zones.names.map((z) => inService.filter((i) => i.zone === z).length);
    if (Math.max(...perZone) - Math.min(...perZone) > 1)
      return `masters not spread over the zones (${perZone.join('/')})`;
    // Workers, pods and services: the connections the simulator has no process for.
    return c.dataPlaneBlocked();
  }
}
