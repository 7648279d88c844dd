/**
 * The safety and liveness properties a simulation checks. Safety is checked on every membership
 * request the reconciler makes (before etcd's own checks, so a wrong decision is caught even when
 * etcd would refuse it) and after every event; convergence is checked once the faults stop.
 *
 * After every event (issue 14), each naming the event that broke it:
 *  - voter-terminated: the group never terminates a running master whose member still votes (its
 *    etcd data goes with the root volume), whether a hook was completed or timed out;
 *  - hook-default-result: no lifecycle hook of a master whose member votes reaches its default
 *    result (the heartbeat or the global timeout expired);
 *  - quorum-lost: quorum is never lost unless the faults alone took more voters than the fault
 *    tolerance (and then voter-terminated still holds: our actions destroy no voter's data);
 *  - watchdog-replaced-master: the node watchdog never reports a master Unhealthy (only the
 *    reconciler replaces a master for etcd's sake).
 */
import type { LifecycleHook } from '../heal/actions.js';
import type { GroupMember, TerminationCause } from './auto-scaling.js';
import type { SimCloud } from './cloud.js';
import type { SimInstance } from './ec2.js';
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
  /** Timeline entries up to here were seen by an earlier check. */
  private seenTimeline = 0;
  private quorumLostAt: number | undefined;
  private readonly watchdogSeen = new Set<string>();
  /**
   * The instances not yet seen gone, and how many of EC2's instances were looked at: instances are
   * never forgotten by EC2 (its map only grows), so each check walks only the live ones.
   */
  private notGone: SimInstance[] = [];
  private instancesSeen = 0;
  /**
   * Each member's instance, as it truly is: the one that had its peer address when the member was
   * added, then the one that started it. EC2 reuses a terminated instance's address (ec2.ts), so the
   * address alone may name a later instance.
   */
  private readonly hostOf = new Map<string, string>();
  private readonly startedSeen = new Set<string>();

  constructor(private readonly cloud: SimCloud) {
    cloud.etcd.onRequest = (r) => this.onRequest(r);
    cloud.group.onHookTimeout = (m, hook, result, global) => this.onHookTimeout(m, hook, result, global);
    cloud.group.onTerminate = (m, cause, alive) => this.onTerminate(m, cause, alive);
  }

  /** The voting member on an instance, if any. */
  private voterOn(instanceId: string): ModelMember | undefined {
    this.trackHosts();
    return this.cloud.etcd.voters().find((m) => this.hostOf.get(m.id) === instanceId);
  }

  /** Records each new member's instance, and the instance of each member when it starts. */
  private trackHosts(): void {
    for (const m of this.cloud.etcd.members.values()) {
      const restarted = m.started && !this.startedSeen.has(m.id);
      if (this.hostOf.has(m.id) && !restarted) continue;
      if (m.started) this.startedSeen.add(m.id);
      const holder = this.cloud.ec2.byAddress(m.ip);
      if (holder) this.hostOf.set(m.id, holder.id);
    }
  }

  private onHookTimeout(m: GroupMember, hook: LifecycleHook, result: string, global: boolean): void {
    const v = this.voterOn(m.id);
    if (!v) return;
    this.violate(
      'hook-default-result',
      `lifecycle ${hook} hook of ${m.id} (${m.zone}) reached its default result ${result} (${global ? 'global timeout' : 'heartbeat timeout expired'}) while its member ${v.id} (${v.name}) still votes`,
    );
  }

  private onTerminate(m: GroupMember, cause: TerminationCause, alive: boolean): void {
    const v = this.voterOn(m.id);
    if (!v || !alive) return;
    const why =
      cause.kind === 'completed'
        ? `the reconciler completed its lifecycle action ${cause.result}`
        : cause.kind === 'hook-timeout'
          ? `its ${cause.hook} hook ${cause.global ? 'reached the global timeout' : 'was not heartbeated'}: default ${cause.result}`
          : 'no lifecycle hook held it';
    this.violate(
      'voter-terminated',
      `${m.id} (${m.zone}) terminated by the group (${why}) while its member ${v.id} (${v.name}) still votes: its etcd data goes with the root volume`,
    );
  }

  /** The events since the previous check (the last timeline entry they logged). */
  private lastEvent(): string {
    const t = this.cloud.k.timeline;
    for (let i = t.length - 1; i >= this.seenTimeline; i--) {
      const e = t[i];
      if (e && e.source !== 'VIOLATION') return `${e.source}: ${e.text}`;
    }
    return `an event at +${Math.round(this.cloud.k.clock.elapsed() / 1000)} s`;
  }

  /** The voter is down because of a fault (not because of anything the reconciler did). */
  private downToFault(v: ModelMember): boolean {
    const c = this.cloud;
    const inst = this.instanceOf(v);
    if (!inst) return false;
    if (inst.state === 'terminated') return c.faults.killed.has(inst.id);
    if (!c.zones.isUp(inst.zone) || c.zones.isPartitioned(inst.zone)) return true;
    return c.faults.peerCut.has(v.ip) || !v.running;
  }

  private checkQuorum(): void {
    const etcd = this.cloud.etcd;
    if (etcd.hasQuorum()) {
      this.quorumLostAt = undefined;
      return;
    }
    const voters = etcd.voters();
    if (voters.length === 0) {
      this.quorumLostAt = undefined;
      return;
    }
    if (this.quorumLostAt !== undefined) return;
    this.quorumLostAt = this.cloud.k.now();
    const faulted = voters.filter((v) => this.downToFault(v));
    const q = etcd.quorum(voters.length);
    if (voters.length - faulted.length < q) {
      this.cloud.k.log(
        'sim',
        `quorum lost: the faults took ${faulted.length} of ${voters.length} voters (tolerance ${voters.length - q})`,
      );
      return;
    }
    this.violate(
      'quorum-lost',
      `quorum lost after "${this.lastEvent()}": ${voters.length} voters, quorum ${q}, only ${faulted.length} down to faults${faulted.length ? ` (${faulted.map((v) => v.name || v.id).join(', ')})` : ''}`,
    );
  }

  private checkWatchdog(): void {
    for (const m of this.cloud.group.members.values()) {
      if (m.unhealthyBy !== 'the node watchdog' || this.watchdogSeen.has(m.id)) continue;
      this.watchdogSeen.add(m.id);
      if (m.lifecycle.startsWith('Terminat')) continue;
      const v = this.voterOn(m.id);
      this.violate(
        'watchdog-replaced-master',
        `the node watchdog of ${m.id} (${m.zone}) reported its master Unhealthy${v ? ` while its member ${v.id} (${v.name}) votes` : ''}: the group replaces it (only the reconciler may, for etcd's sake)`,
      );
    }
  }

  private violate(rule: string, detail: string): void {
    const at = this.cloud.k.clock.elapsed();
    if (this.violations.some((v) => v.rule === rule && v.detail === detail)) return;
    this.violations.push({ at, rule, detail });
    this.cloud.k.log('VIOLATION', `${rule}: ${detail}`);
  }

  private instanceOf(m: ModelMember) {
    this.trackHosts();
    const id = this.hostOf.get(m.id);
    return id === undefined ? this.cloud.ec2.byAddress(m.ip) : this.cloud.ec2.get(id);
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

  /** Record when each instance is first seen gone (terminated, Terminating*, or out of the group). */
  private markGone(): void {
    const now = this.cloud.k.now();
    const instances = this.cloud.ec2.instances;
    if (instances.size !== this.instancesSeen) {
      this.instancesSeen = instances.size;
      this.notGone = [...instances.values()].filter((i) => !this.goneSince.has(i.id));
    }
    const members = this.cloud.group.members;
    let kept = 0;
    for (const inst of this.notGone) {
      const gm = members.get(inst.id);
      if (inst.state === 'terminated' || !gm || gm.lifecycle.startsWith('Terminat'))
        this.goneSince.set(inst.id, now);
      else this.notGone[kept++] = inst;
    }
    this.notGone.length = kept;
  }

  /** After every event. */
  check(): void {
    this.trackHosts();
    this.markGone();
    const etcd = this.cloud.etcd;
    let learners = 0;
    let unstarted = 0;
    for (const m of etcd.members.values()) {
      if (m.isLearner) learners++;
      if (!m.started) unstarted++;
    }
    if (learners > 1) this.violate('one-learner', `${learners} learners`);
    if (unstarted > 1) this.violate('one-change-in-flight', `${unstarted} members added and not started`);
    if (etcd.secondSeed) this.violate('single-cluster', etcd.secondSeed);
    this.checkQuorum();
    this.checkWatchdog();
    this.seenTimeline = this.cloud.k.timeline.length;
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
