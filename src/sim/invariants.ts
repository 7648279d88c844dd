/**
 * The safety and liveness properties a simulation checks. Safety is checked on every membership
 * request the reconciler makes (before etcd's own checks, so a wrong decision is caught even when
 * etcd would refuse it) and after every event; convergence is checked once the faults stop.
 *
 * A request that would leave fewer healthy voters than quorum ('quorum') is judged when it arrives,
 * unless the world changed after the pass that made it started (a member lost its link to the
 * leader, or the leader was lost, by anything but a membership change): that pass decided on an
 * observation taken before, which is no error of the reconciler's while etcd refuses the request.
 * Such a request is judged again if etcd carries it out (after its own refusals), and violates then.
 *
 * After every event (issue 14), each naming the event that broke it:
 *  - voter-terminated: the group never terminates a running master whose member still votes (its
 *    etcd data goes with the root volume), whether a hook was completed or timed out;
 *  - hook-default-result: no lifecycle hook of a master whose member votes reaches its default
 *    result (the heartbeat or the global timeout expired);
 *  - quorum-lost: quorum is never lost unless the faults alone took more voters than the fault
 *    tolerance (and then voter-terminated still holds: our actions destroy no voter's data);
 *  - watchdog-replaced-master: the node watchdog never reports a master Unhealthy (only the
 *    reconciler replaces a master for etcd's sake);
 *  - learner-stuck (liveness): while the reconciler can act on etcd (below, `canAct`), a learner
 *    whose instance is gone, or whose member has not started by its node's boot timeout, is removed
 *    within LEARNER_STUCK_MS (no other membership change meanwhile). Left, it blocks every later
 *    join (etcd allows one learner): the bug of e934ad4, which only slowed convergence.
 */
import { ETCD_CLIENT_PORT } from '../contract/protocol.js';
import type { LifecycleHook } from '../heal/actions.js';
import type { GroupMember, TerminationCause } from './auto-scaling.js';
import type { SimCloud } from './cloud.js';
import type { SimInstance } from './ec2.js';
import type { MembershipRequest, ModelMember } from './etcd-model.js';
import { ReconcilerLambda, SCHEDULE_MS, TIMEOUT_MS } from './lambda.js';

export interface Violation {
  at: number;
  rule: string;
  detail: string;
}

/** How long an instance must have been gone before adding a member while its voter remains is a decision error. */
const DEAD_KNOWN_MS = 60_000;

/**
 * One pass cycle at the longest, from the reconciler's own timeouts: a pass runs at most the
 * function's timeout (TIMEOUT_MS, 120 s), and the next one starts at the latest on the next
 * schedule tick (SCHEDULE_MS, 60 s).
 */
const PASS_CYCLE_MS = TIMEOUT_MS + SCHEDULE_MS;
/**
 * How long a stuck learner may stay while the reconciler can act and makes no other membership
 * change: the pass running when it became stuck may have observed the world before (one cycle);
 * the next one removes it (the strays phase: a member of a gone instance), or makes another
 * membership change first (one per pass; the clock then starts again). 6 min.
 */
export const LEARNER_STUCK_MS = 2 * PASS_CYCLE_MS;

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** instance id -> when it was first seen gone (Terminating*, terminated, or out of the group). */
  private readonly goneSince = new Map<string, number>();
  /** instance id -> when it was first seen a master of the group (launched into it, or out of its warm pool). */
  private readonly joinedAt = new Map<string, number>();
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
  /** When each member was first seen (added). */
  private readonly addedAt = new Map<string, number>();
  /**
   * The members linked to the leader at the last check (their `connectedSince` set: healthy voters,
   * connected learners), and when one last lost that link (or the leader was lost) by anything but
   * a membership change etcd carried out: a fault, a crash, a terminated instance.
   */
  private linked = new Set<string>();
  private worldChangedAt = Number.NEGATIVE_INFINITY;
  /** etcd's membership changes carried out, as of the last check. */
  private changesSeen = 0;
  /** Unsafe requests made on a world that changed after their pass started: judged if etcd executes them. */
  private readonly deferred = new WeakSet<MembershipRequest>();
  /** learner-stuck: the learners overdue at the last check, the reconciler able to act then, and each one's time. */
  private overdueLearners: ModelMember[] = [];
  private couldAct = false;
  private lastCheckAt: number | undefined;
  private readonly stuckMs = new Map<string, number>();

  constructor(private readonly cloud: SimCloud) {
    cloud.etcd.onRequest = (r) => this.onRequest(r);
    cloud.etcd.onExecuted = (r) => this.onExecuted(r);
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
      if (!this.addedAt.has(m.id)) this.addedAt.set(m.id, this.cloud.k.now());
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

  /**
   * Why carrying out this promote or remove now would leave fewer healthy voters than quorum, when
   * etcd has quorum now (undefined: it would not, or it is another request).
   */
  private quorumAfter(r: MembershipRequest): string | undefined {
    if (r.kind === 'add-learner') return undefined;
    const etcd = this.cloud.etcd;
    const voters = etcd.voters();
    const healthy = new Set(etcd.healthyVoters().map((v) => v.id));
    if (healthy.size < etcd.quorum(voters.length)) return undefined;
    const target = etcd.members.get(r.memberId);
    if (r.kind === 'remove') {
      if (!target || target.isLearner) return undefined;
      const healthyAfter = healthy.size - (healthy.has(target.id) ? 1 : 0);
      const q = etcd.quorum(voters.length - 1);
      return healthyAfter < q
        ? `removing ${target.id} (${target.name}) leaves ${healthyAfter} healthy of ${voters.length - 1} voters (quorum ${q})`
        : undefined;
    }
    if (!target?.isLearner) return undefined;
    const inSync =
      target.running &&
      target.connectedSince !== undefined &&
      etcd.indexOf(target) >= etcd.commitIndex() * 0.9;
    const healthyAfter = healthy.size + (inSync ? 1 : 0);
    return healthyAfter < etcd.quorum(voters.length + 1)
      ? `promoting ${target.id} leaves ${healthyAfter} healthy of ${voters.length + 1} voters`
      : undefined;
  }

  private onRequest(r: MembershipRequest): void {
    const unsafe = this.quorumAfter(r);
    if (unsafe !== undefined) {
      // Decided on an observation older than a change of the world: judged if etcd carries it out.
      const passStart = ReconcilerLambda.of(this.cloud)?.passRunningSince;
      if (passStart !== undefined && this.worldChangedAt >= passStart) {
        this.deferred.add(r);
        const at = (t: number) => `+${((t - this.cloud.k.clock.start) / 1000).toFixed(3)} s`;
        this.cloud.k.log(
          'sim',
          `${unsafe}: the world changed at ${at(this.worldChangedAt)}, after its pass started (${at(passStart)}); judged again if etcd carries it out`,
        );
      } else this.violate('quorum', unsafe);
    }
    const etcd = this.cloud.etcd;
    if (r.kind === 'remove') {
      const target = etcd.members.get(r.memberId);
      if (!target || target.isLearner) return;
      if (etcd.healthyVoters().some((v) => v.id === target.id) && !this.leaving(target)) {
        this.violate(
          'healthy-voter-removed',
          `removing healthy voter ${target.id} (${target.name}) whose instance is not terminating`,
        );
      }
    } else if (r.kind === 'add-learner') {
      if (etcd.learners().length > 0) {
        this.violate(
          'one-change-in-flight',
          `adding ${r.peerURL} while learner ${etcd.learners()[0]?.id} is not promoted`,
        );
      }
      const healthy = new Set(etcd.healthyVoters().map((v) => v.id));
      const now = this.cloud.k.now();
      for (const v of etcd.voters()) {
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

  /** etcd carries out a request: one judged unsafe on a changed world violates now. */
  private onExecuted(r: MembershipRequest): void {
    if (!this.deferred.has(r)) return;
    this.deferred.delete(r);
    const unsafe = this.quorumAfter(r);
    if (unsafe !== undefined) this.violate('quorum', `${unsafe}, and etcd carried it out`);
  }

  /**
   * Record when each instance is first seen gone (terminated, Terminating*, or out of the group).
   * An instance in the group's warm pool is not gone: it leaves the pool as a master.
   */
  private markGone(): void {
    const now = this.cloud.k.now();
    const instances = this.cloud.ec2.instances;
    if (instances.size !== this.instancesSeen) {
      this.instancesSeen = instances.size;
      this.notGone = [...instances.values()].filter((i) => !this.goneSince.has(i.id));
    }
    const { members, pool } = this.cloud.group;
    let kept = 0;
    for (const inst of this.notGone) {
      const master = members.get(inst.id);
      if (master && !this.joinedAt.has(inst.id)) this.joinedAt.set(inst.id, now);
      const gm = master ?? pool.get(inst.id);
      // Terminating*, Terminated, Warmed:Terminating*, Warmed:Terminated.
      if (inst.state === 'terminated' || !gm || gm.lifecycle.includes('Terminat'))
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
    const changes = etcd.stats.adds + etcd.stats.promotes + etcd.stats.removes;
    const changed = changes !== this.changesSeen;
    this.changesSeen = changes;
    this.trackLinks(changed);
    this.checkLearners(changed);
    this.seenTimeline = this.cloud.k.timeline.length;
  }

  /** Notes when a member lost its link to the leader, unless a membership change did it (`changed`). */
  private trackLinks(changed: boolean): void {
    const linked = new Set<string>();
    let lost = false;
    for (const m of this.cloud.etcd.members.values()) {
      if (m.connectedSince !== undefined) linked.add(m.id);
      else if (this.linked.has(m.id)) lost = true;
    }
    if (lost && !changed) this.worldChangedAt = this.cloud.k.now();
    this.linked = linked;
  }

  /**
   * The reconciler can act on etcd: it has quorum and a leader, the reconciler reaches one of its
   * healthy voters (no etcd-unreachable fault, the security groups let it), and no fault keeps its
   * passes from acting (crashing invocations, throttled AWS APIs, a slow snapshot holding the
   * function's one slot up to its timeout).
   */
  private canAct(): boolean {
    const c = this.cloud;
    const now = c.k.now();
    const lambda = ReconcilerLambda.of(c);
    if (!lambda || now < lambda.crashUntil || c.apiFaults.active(now)) return false;
    if (now < c.faults.etcdCutUntil) return false;
    const backup = c.faults.backup;
    if (backup?.slowMs && now < backup.until) return false;
    if (!c.etcd.leaderId || !c.etcd.hasQuorum()) return false;
    if (!c.etcd.healthyVoters().some((v) => c.ec2.reconcilerReach(v.ip))) return false;
    return c.connects('reconciler', 'masters', 'tcp', ETCD_CLIENT_PORT);
  }

  /**
   * A learner is overdue once its instance is gone, or one pass cycle after its node's boot timeout
   * (the reconciler's bootTimeoutMs, counted from when the learner was added or its master joined
   * the group, whichever is later: the boot started before) while its member has not started: by
   * then the reconciler has abandoned that launch. When its instance is gone before it started and
   * EC2 gave its address to a new master of the group, the reconciler gives that master the learner
   * (heal/roster.ts ties a member to the live instance with its peer URL; never to a warm pool
   * instance, e934ad4), and the learner waits for that master's boot instead.
   */
  private overdue(m: ModelMember, now: number): string | undefined {
    if (!m.isLearner) return undefined;
    let inst = this.instanceOf(m);
    if (!inst || this.goneSince.has(inst.id)) {
      const heir = this.cloud.ec2.byAddress(m.ip);
      const taken = heir && !this.goneSince.has(heir.id) && this.cloud.group.members.has(heir.id);
      if (m.started || !taken) return `its instance ${inst?.id ?? '(none)'} is gone`;
      inst = heir;
    }
    if (m.started) return undefined;
    const since = Math.max(this.addedAt.get(m.id) ?? now, this.joinedAt.get(inst.id) ?? now);
    return now - since >= this.cloud.config.bootTimeoutMs + PASS_CYCLE_MS
      ? `its member has not started on ${inst.id} ${Math.round((now - since) / 1000)} s after it was added or its master joined the group (boot timeout ${this.cloud.config.bootTimeoutMs / 1000} s)`
      : undefined;
  }

  /** learner-stuck: the time since the last check counts for the learners overdue then, if the reconciler could act. */
  private checkLearners(changed: boolean): void {
    const etcd = this.cloud.etcd;
    const now = this.cloud.k.now();
    const elapsed = this.lastCheckAt === undefined ? 0 : now - this.lastCheckAt;
    this.lastCheckAt = now;
    // Another membership change was made: the reconciler works through its one change per pass.
    if (changed) this.stuckMs.clear();
    if (this.couldAct && !changed) {
      for (const m of this.overdueLearners) {
        if (etcd.members.get(m.id) !== m || !m.isLearner) continue;
        const ms = (this.stuckMs.get(m.id) ?? 0) + elapsed;
        this.stuckMs.set(m.id, ms);
        const why = ms > LEARNER_STUCK_MS ? this.overdue(m, now) : undefined;
        if (why !== undefined) {
          this.violate(
            'learner-stuck',
            `learner ${m.id} (${m.name || 'unstarted'}) is still a member: ${why}, and the reconciler could act on etcd for over ${LEARNER_STUCK_MS / 1000} s without removing it or changing the membership otherwise`,
          );
        }
      }
    }
    const overdue: ModelMember[] = [];
    for (const m of etcd.members.values()) if (this.overdue(m, now) !== undefined) overdue.push(m);
    this.overdueLearners = overdue;
    if (overdue.length === 0) {
      this.stuckMs.clear();
      this.couldAct = false;
      return;
    }
    for (const id of this.stuckMs.keys()) if (!overdue.some((m) => m.id === id)) this.stuckMs.delete(id);
    this.couldAct = this.canAct();
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
