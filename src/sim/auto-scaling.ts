/**
 * An Auto Scaling group, as AWS documents it: balances instances across the available zones,
 * replaces impaired and Unhealthy instances (launching in healthy zones when a zone fails),
 * rebalances when a zone recovers (launch first, terminate after, exceeding max by 10 % or 1),
 * holds instances in Pending:Wait / Terminating:Wait for lifecycle hooks until completed or until
 * the heartbeat timeout applies the default result (launch ABANDON terminates the instance), and
 * registers InService instances in attached target groups.
 *
 * A warm pool (PutWarmPool; DescribeWarmPool lists its instances): the group keeps `size` prepared
 * instances beside it, launched into the zones with the fewest pool instances. Each goes through
 * Warmed:Pending:Wait (the launching hook; Origin EC2, Destination WarmPool) while its node prepares,
 * then Warmed:Pending:Proceed until it is in the pool's state: Warmed:Stopped once EC2 reports it
 * stopped (StopInstances, EC2_STOP_MS), or Warmed:Running. When the group needs an instance in a zone
 * it takes a ready pool instance of THAT zone (balance first, as for any launch): it starts (from
 * Stopped, EC2_START_FROM_STOPPED_MS) and enters Pending:Wait (Origin WarmPool, Destination
 * AutoScalingGroup); with none there it launches fresh (a cold start). The zone rule is our
 * assumption: AWS does not document which pool instance the group takes, only that it launches
 * fresh when a zone is out of capacity. A pool instance in a zone that is down cannot start. The
 * pool refills after use. Once its warm-up hook is over, a pool instance whose EC2 instance is gone
 * (or, a Running one, impaired) fails its health check and is replaced (checkPoolHealth).
 *
 * The pool's size follows API_PutWarmPool: MaxGroupPreparedCapacity (unset or -1: the group's max
 * size) minus the desired capacity, never below MinSize (0 when desired exceeds the capacity, unless
 * MinSize says more); only MaxGroupPreparedCapacity = MinSize gives an absolute size. A pool that
 * shrinks, or is deleted (DeleteWarmPool), terminates its extra instances: with a terminating hook,
 * each waits in Warmed:Terminating:Wait until completed or until the hook's heartbeat timeout applies
 * its default result, as a group instance does in Terminating:Wait; ForceDelete terminates them at
 * once and drops their outstanding lifecycle actions. Which instances a shrinking pool gives up first
 * is not documented: here, the zone with the most, the newest.
 */
import type { LifecycleHook } from '../heal/actions.js';
import type { LifecycleState } from '../heal/observed.js';
import type { FleetInstance } from '../heal/ports.js';
import { SimAwsError } from './api-errors.js';
import type { Ec2, SimInstance } from './ec2.js';
import type { TargetGroup } from './elb.js';
import type { EventBus } from './eventbridge.js';
import type { Kernel } from './kernel.js';
import type { Zones } from './zones.js';

export interface GroupOptions {
  name: string;
  desired: number;
  min: number;
  max: number;
  /** Lifecycle hooks (both) with this heartbeat timeout; undefined = no hooks. */
  hookHeartbeatMs: number | undefined;
  /** The terminating hook's heartbeat timeout, when it differs from the launching one's (a worker's drain). */
  terminateHookHeartbeatMs?: number;
  launchDefaultResult: 'CONTINUE' | 'ABANDON';
  terminateDefaultResult: 'CONTINUE' | 'ABANDON';
  targetGroups: TargetGroup[];
  /** How long EC2 status checks must fail before the group marks an instance Unhealthy. */
  impairedGraceMs: number;
  /** Period of the group's own activity loop. */
  tickMs: number;
  /**
   * A warm pool (PutWarmPool: `size` is MinSize, PoolState, MaxGroupPreparedCapacity: undefined or
   * -1 for the group's max size); undefined: none.
   */
  warmPool?: { size: number; state: 'Stopped' | 'Running'; maxGroupPreparedCapacity?: number };
}

/** A lifecycle hook as the provisioner declares it (PutLifecycleHook's fields; adapters/aws LifecycleHookSpec). */
export interface DeclaredHook {
  name: string;
  transition: string;
  heartbeatTimeout: number;
  defaultResult: 'CONTINUE' | 'ABANDON';
}

const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
/** PutLifecycleHook's HeartbeatTimeout range, in seconds (AWS refuses a value outside it). */
export const HOOK_HEARTBEAT_RANGE_S = [30, 7200] as const;

/**
 * The group options of the lifecycle hooks a group is declared with (the provisioner's desired
 * group's `hooks`). Refuses what PutLifecycleHook refuses (a heartbeat timeout outside 30-7200 s, a
 * transition other than launching or terminating) and what the model cannot hold: one transition
 * hooked twice, or only one of the two hooked (the simulated group holds both hooks or none).
 */
export function declaredHookOptions(
  group: string,
  hooks: readonly DeclaredHook[] | undefined,
): Pick<
  GroupOptions,
  'hookHeartbeatMs' | 'terminateHookHeartbeatMs' | 'launchDefaultResult' | 'terminateDefaultResult'
> {
  if (!hooks || hooks.length === 0) {
    return {
      hookHeartbeatMs: undefined,
      launchDefaultResult: 'CONTINUE',
      terminateDefaultResult: 'CONTINUE',
    };
  }
  const byTransition = new Map<string, DeclaredHook>();
  for (const h of hooks) {
    const where = `group ${group}, lifecycle hook ${h.name}`;
    if (h.transition !== LAUNCHING && h.transition !== TERMINATING)
      throw new Error(`${where}: transition ${h.transition} is neither ${LAUNCHING} nor ${TERMINATING}`);
    const [lo, hi] = HOOK_HEARTBEAT_RANGE_S;
    if (!Number.isInteger(h.heartbeatTimeout) || h.heartbeatTimeout < lo || h.heartbeatTimeout > hi)
      throw new Error(`${where}: heartbeatTimeout ${h.heartbeatTimeout} s is outside ${lo}-${hi} s`);
    if (byTransition.has(h.transition))
      throw new Error(
        `${where}: ${h.transition} is already hooked by ${byTransition.get(h.transition)?.name}`,
      );
    byTransition.set(h.transition, h);
  }
  const launch = byTransition.get(LAUNCHING);
  const terminate = byTransition.get(TERMINATING);
  if (!launch || !terminate)
    throw new Error(
      `group ${group}: the simulated group holds both lifecycle hooks or none, but only ${[...byTransition.keys()].join()} is declared`,
    );
  return {
    hookHeartbeatMs: launch.heartbeatTimeout * 1000,
    terminateHookHeartbeatMs: terminate.heartbeatTimeout * 1000,
    launchDefaultResult: launch.defaultResult,
    terminateDefaultResult: terminate.defaultResult,
  };
}

/**
 * StartInstances of a stopped EBS-backed instance to `running` (bench/README.md cites the source):
 * EC2 attaches the root volume again and boots the instance on a host; no AMI copy, no new ENI.
 */
export const EC2_START_FROM_STOPPED_MS = [10_000, 25_000] as const;

/**
 * StopInstances of a prepared pool instance, `stopping` to `stopped`. **Estimate, no published
 * figure found**: EC2 sends an ACPI shutdown, the OS shuts down gracefully, and "if the instance OS
 * does not cleanly shut down within a few minutes, a hard shutdown is performed" (EC2 User Guide,
 * how-ec2-instance-stop-start-works). A pool instance runs no etcd and no workload, so its shutdown
 * is short; the range adds EC2's own transition.
 */
export const EC2_STOP_MS = [15_000, 60_000] as const;

export interface GroupMember {
  id: string;
  zone: string;
  lifecycle: LifecycleState;
  health: 'Healthy' | 'Unhealthy';
  launchTime: number;
  hookDeadline?: number;
  hookGlobalDeadline?: number;
  /** Launched by an AZ rebalance. */
  rebalance?: boolean;
  /** Who set it Unhealthy (SetInstanceHealth): the reconciler, the node's watchdog, a fault. */
  unhealthyBy?: string;
  /** SetInstanceProtection: never chosen to terminate on scale-in or rebalance (health replacement still applies). */
  protectedFromScaleIn?: boolean;
}

/** Why the group terminates an instance (for the invariants). */
export type TerminationCause =
  | { kind: 'completed'; result: 'CONTINUE' | 'ABANDON' }
  | { kind: 'hook-timeout'; hook: LifecycleHook; result: 'CONTINUE' | 'ABANDON'; global: boolean }
  | { kind: 'no-hook' };

export class AutoScalingGroup {
  readonly members = new Map<string, GroupMember>();
  /** The warm pool's instances (Warmed:*), not counted against desired capacity. */
  readonly pool = new Map<string, GroupMember>();
  readonly stats = {
    launched: 0,
    terminated: 0,
    hookTimeouts: 0,
    rebalances: 0,
    warmStarts: 0,
    coldStarts: 0,
  };
  /** DeleteWarmPool without ForceDelete: PendingDelete until its last instance has terminated. */
  private poolDeleting = false;
  /** A lifecycle action reached its default result (heartbeat or global timeout): before it applies. */
  onHookTimeout: (
    m: GroupMember,
    hook: LifecycleHook,
    result: 'CONTINUE' | 'ABANDON',
    global: boolean,
  ) => void = () => {};
  /**
   * The group is about to terminate an instance (after its hook, or without one). `alive`: the
   * instance was still running, so the group's termination destroys it and its root volume.
   */
  onTerminate: (m: GroupMember, cause: TerminationCause, alive: boolean) => void = () => {};
  /** How each instance's lifecycle action ended (set when it completes or times out). */
  private readonly hookEnds = new Map<string, TerminationCause>();

  constructor(
    private readonly k: Kernel,
    private readonly ec2: Ec2,
    private readonly zones: Zones,
    private readonly bus: EventBus,
    readonly opts: GroupOptions,
  ) {
    const loop = () => {
      this.tick();
      this.k.after(this.opts.tickMs, loop);
    };
    this.k.after(0, loop);
  }

  get name(): string {
    return this.opts.name;
  }

  describe(): { name: string; desired: number; instances: FleetInstance[] } {
    return { name: this.name, desired: this.opts.desired, instances: this.fleet(this.members.values()) };
  }

  /** DescribeWarmPool's instances (Warmed:*): the reconciler's FleetPort lists them beside the group's. */
  describeWarmPool(): FleetInstance[] {
    return this.fleet(this.pool.values());
  }

  private fleet(members: Iterable<GroupMember>): FleetInstance[] {
    const instances: FleetInstance[] = [];
    for (const m of members) {
      instances.push({
        instanceId: m.id,
        zone: m.zone,
        // As the Lambda's fleet adapter reads it, from DescribeInstances: none once terminated.
        privateIp: this.ec2.privateIpAddress(m.id),
        lifecycleState: m.lifecycle,
        health: m.health,
        launchTime: m.launchTime,
      });
    }
    return instances;
  }

  completeLifecycleAction(instanceId: string, hook: LifecycleHook, result: 'CONTINUE' | 'ABANDON'): void {
    const m = this.waiting(instanceId, hook);
    this.k.log('asg', `lifecycle ${hook} ${instanceId} completed ${result}`);
    this.hookEnds.set(m.id, { kind: 'completed', result });
    this.finishHook(m, result);
  }

  recordHeartbeat(instanceId: string, hook: LifecycleHook): void {
    const m = this.waiting(instanceId, hook);
    const hb = this.heartbeatMs(hook === 'launching' ? 'launch' : 'terminate');
    m.hookDeadline = Math.min(this.k.now() + hb, m.hookGlobalDeadline ?? Number.POSITIVE_INFINITY);
  }

  /** SetInstanceHealth Unhealthy; `by` says who called it (the reconciler, unless told). */
  setUnhealthy(instanceId: string, by = 'reconciler'): void {
    const m = this.members.get(instanceId);
    if (!m) {
      throw new SimAwsError(
        'ValidationError',
        `Instance Id not found - No instance(s) found with ID ${instanceId}`,
        400,
        this.k.rng.hex(8),
      );
    }
    if (m.health === 'Unhealthy') return;
    m.health = 'Unhealthy';
    m.unhealthyBy = by;
    this.k.log('asg', `${instanceId} set Unhealthy${by === 'reconciler' ? '' : ` by ${by}`}`);
  }

  private waiting(instanceId: string, hook: LifecycleHook): GroupMember {
    const m = this.members.get(instanceId) ?? this.pool.get(instanceId);
    const states: LifecycleState[] =
      hook === 'launching'
        ? ['Pending:Wait', 'Warmed:Pending:Wait']
        : ['Terminating:Wait', 'Warmed:Terminating:Wait'];
    if (!m || !states.includes(m.lifecycle)) {
      throw new SimAwsError(
        'ValidationError',
        `No active Lifecycle Action found with instance ID ${instanceId}`,
        400,
        this.k.rng.hex(8),
      );
    }
    return m;
  }

  /** Instances counted against desired capacity. */
  active(): GroupMember[] {
    return [...this.members.values()].filter((m) => !m.lifecycle.startsWith('Terminat'));
  }

  /** Any lifecycle action waiting? */
  pendingLifecycle(): GroupMember[] {
    return [...this.members.values()].filter(
      (m) => m.lifecycle === 'Pending:Wait' || m.lifecycle === 'Terminating:Wait',
    );
  }

  /** Kill one instance by hand (`aws autoscaling terminate-instance-in-auto-scaling-group`). */
  terminateInstance(instanceId: string, why: string): void {
    const m = this.members.get(instanceId);
    if (m && !m.lifecycle.startsWith('Terminat')) this.startTermination(m, why);
  }

  /**
   * AZ rebalancing (or capacity rebalancing) as AWS does it: launch one instance more first (up to
   * max + 10 % or 1), in the emptiest zone; once it is InService the group terminates one from the
   * zone with the most instances, the oldest (the default termination policy), through its hook.
   */
  rebalanceLaunch(why: string): boolean {
    const available = this.zones.available();
    const active = this.active();
    const limit = this.opts.max + Math.max(1, Math.floor(this.opts.max * 0.1));
    if (available.length === 0 || active.length >= limit || active.length > this.opts.desired) return false;
    this.stats.rebalances++;
    this.launch(this.smallestZone(available), why, true);
    return true;
  }

  /** The target lifecycle state the instance metadata gives the node (autoscaling/target-lifecycle-state). */
  targetLifecycleState(instanceId: string): string | undefined {
    const w = this.pool.get(instanceId);
    if (w)
      return w.lifecycle.startsWith('Warmed:Terminat')
        ? 'Warmed:Terminated'
        : `Warmed:${this.opts.warmPool?.state ?? 'Stopped'}`;
    const m = this.members.get(instanceId);
    if (!m) return undefined;
    return m.lifecycle.startsWith('Terminat') ? 'Terminated' : 'InService';
  }

  /**
   * A pool instance leaves the pool for good (an instance refresh replacing the pool's outdated
   * instances): through the terminating hook, and the pool refills with a new launch.
   */
  terminatePoolMember(instanceId: string, why: string): void {
    const m = this.pool.get(instanceId);
    if (m && !m.lifecycle.startsWith('Warmed:Terminat')) this.terminatePoolInstance(m, why);
  }

  /**
   * Why the warm pool is not back to its size of ready instances (Warmed:Stopped or Warmed:Running,
   * Healthy, their EC2 instance not gone), or undefined when it is: it refills after use and after a loss.
   */
  poolShort(): string | undefined {
    const size = this.poolSize();
    const ready = [...this.pool.values()].filter(
      (m) =>
        (m.lifecycle === 'Warmed:Stopped' || m.lifecycle === 'Warmed:Running') &&
        m.health === 'Healthy' &&
        this.ec2.get(m.id)?.state !== 'terminated',
    ).length;
    return ready >= size ? undefined : `${ready} of ${size} warm pool instances ready`;
  }

  /** Pool instances that count toward its size (not leaving it). */
  private poolKept(): GroupMember[] {
    return [...this.pool.values()].filter((m) => !m.lifecycle.startsWith('Warmed:Terminat'));
  }

  /**
   * The pool's size (API_PutWarmPool): max(MinSize, MaxGroupPreparedCapacity - desired), the
   * capacity being the group's max size when unset or -1; 0 while the pool is being deleted.
   */
  poolSize(): number {
    const wp = this.opts.warmPool;
    if (!wp || this.poolDeleting) return 0;
    const cap =
      wp.maxGroupPreparedCapacity === undefined || wp.maxGroupPreparedCapacity < 0
        ? this.opts.max
        : wp.maxGroupPreparedCapacity;
    return Math.max(wp.size, cap - this.opts.desired, 0);
  }

  /**
   * DeleteWarmPool: its instances terminate, through the terminating hook unless `forceDelete`
   * (which drops their outstanding lifecycle actions); the pool is gone once they are.
   */
  deleteWarmPool(forceDelete: boolean): void {
    if (!this.opts.warmPool) return;
    this.poolDeleting = true;
    this.k.log('asg', `DeleteWarmPool${forceDelete ? ' (ForceDelete)' : ''}`);
    for (const m of this.pool.values()) {
      if (forceDelete) {
        if (m.lifecycle === 'Warmed:Terminating:Proceed' || m.lifecycle === 'Warmed:Terminating') continue;
        this.terminateIn(m, 'Warmed:Terminating');
      } else if (!m.lifecycle.startsWith('Warmed:Terminat')) {
        this.terminatePoolInstance(m, 'the warm pool is being deleted');
      }
    }
    this.dropDeletedPool();
  }

  /** The warm pool, if any: `PendingDelete` while DeleteWarmPool waits on its instances. */
  warmPoolStatus(): 'active' | 'PendingDelete' | undefined {
    if (!this.opts.warmPool) return undefined;
    return this.poolDeleting ? 'PendingDelete' : 'active';
  }

  private dropDeletedPool(): void {
    if (!this.poolDeleting || this.pool.size > 0) return;
    this.poolDeleting = false;
    delete this.opts.warmPool;
    this.k.log('asg', 'warm pool deleted');
  }

  /** A pool instance leaves the pool for good, as a group instance leaves the group (startTermination). */
  private terminatePoolInstance(m: GroupMember, why: string): void {
    this.k.log('asg', `warm pool: terminate ${m.id} (${m.zone}): ${why}`);
    this.startTermination(m);
  }

  /**
   * Keeps the pool at its size: the extra instances terminate (the zone with the most first, the
   * newest), the missing ones launch, each in the available zone with the fewest of them.
   */
  private refillPool(): void {
    const size = this.poolSize();
    let kept = this.poolKept();
    while (kept.length > size) {
      const counts = this.counts(kept, [...new Set(kept.map((m) => m.zone))]);
      const most = Math.max(...counts.values());
      const victim = kept
        .filter((m) => counts.get(m.zone) === most)
        .sort((a, b) => b.launchTime - a.launchTime || (a.id < b.id ? 1 : -1))[0] as GroupMember;
      this.terminatePoolInstance(victim, `the warm pool's size is ${size}`);
      kept = this.poolKept();
    }
    const available = this.zones.available();
    if (available.length === 0) return;
    for (let n = kept.length; n < size; n++) {
      const counts = this.counts(this.poolKept(), available);
      const min = Math.min(...counts.values());
      const zone = this.k.rng.pick(available.filter((z) => counts.get(z) === min));
      const inst = this.ec2.launch(zone, this.name);
      this.stats.launched++;
      const now = this.k.now();
      const hb = this.opts.hookHeartbeatMs;
      const m: GroupMember = {
        id: inst.id,
        zone,
        lifecycle: hb === undefined ? 'Warmed:Pending' : 'Warmed:Pending:Wait',
        health: 'Healthy',
        launchTime: now,
      };
      this.pool.set(inst.id, m);
      this.k.log('asg', `warm pool: launch ${inst.id} in ${zone} (${inst.ip}) to prepare`);
      if (hb === undefined) {
        this.k.after(1_000, () => {
          // Left the pool meanwhile (a shrink, DeleteWarmPool): it is not prepared any more.
          if (m.lifecycle !== 'Warmed:Pending') return;
          m.lifecycle = 'Warmed:Pending:Wait';
          this.finishHook(m, 'CONTINUE');
        });
        continue;
      }
      this.awaitHook(m, 'launch', 'Origin EC2, Destination WarmPool');
    }
  }

  /**
   * The group takes a ready pool instance in `zone` into service (a warm start): a stopped one is
   * started first (EC2 refuses a start in a zone that is down). False when the zone has none.
   */
  private fromPool(zone: string, why: string, rebalance: boolean): boolean {
    const wp = this.opts.warmPool;
    if (!wp) return false;
    const ready = [...this.pool.values()]
      .filter(
        (m) => m.zone === zone && (m.lifecycle === 'Warmed:Stopped' || m.lifecycle === 'Warmed:Running'),
      )
      .sort((a, b) => a.launchTime - b.launchTime || (a.id < b.id ? -1 : 1));
    for (const m of ready) {
      const inst = this.ec2.get(m.id);
      if (!inst) continue;
      if (m.lifecycle === 'Warmed:Stopped' && !this.ec2.start(m.id, EC2_START_FROM_STOPPED_MS)) continue;
      if (m.lifecycle === 'Warmed:Running' && inst.state !== 'running') continue;
      this.pool.delete(m.id);
      this.stats.warmStarts++;
      const now = this.k.now();
      const hb = this.opts.hookHeartbeatMs;
      m.lifecycle = hb === undefined ? 'Pending' : 'Pending:Wait';
      m.launchTime = now;
      if (rebalance) m.rebalance = true;
      this.members.set(m.id, m);
      this.k.log('asg', `warm start: ${m.id} in ${zone} (${inst.ip}) leaves the warm pool: ${why}`);
      if (hb !== undefined) {
        this.awaitHook(m, 'launch', 'Origin WarmPool, Destination AutoScalingGroup');
      } else {
        this.k.after(1_000, () => this.enterService(m));
      }
      return true;
    }
    return false;
  }

  /**
   * A pool instance in Warmed:Pending:Proceed reaches the pool's state. Running: at once. Stopped:
   * the group stops it and it stays Warmed:Pending:Proceed until EC2 reports it `stopped` (AWS's
   * lifecycle: Warmed:Pending:Proceed, then Warmed:Stopped once stopped); the group's activity tick
   * looks again. Until then it is not ready, so the group does not take it (fromPool takes only
   * Warmed:Stopped and Warmed:Running instances, which AWS calls ready to be launched into the group).
   */
  private proceedIntoPool(m: GroupMember): void {
    if (m.lifecycle !== 'Warmed:Pending:Proceed' || !this.pool.has(m.id)) return;
    const inst = this.ec2.get(m.id);
    if (this.opts.warmPool?.state === 'Stopped') {
      if (inst?.state === 'running') this.ec2.stop(m.id, EC2_STOP_MS);
      if (inst?.state !== 'stopped') return;
      m.lifecycle = 'Warmed:Stopped';
    } else {
      if (inst?.state !== 'running') return;
      m.lifecycle = 'Warmed:Running';
    }
    this.k.log('asg', `${m.id} (${m.zone}) ${m.lifecycle}`);
  }

  tick(): void {
    const now = this.k.now();
    for (const m of [...this.pool.values()]) {
      if (m.lifecycle === 'Warmed:Pending:Proceed') this.proceedIntoPool(m);
    }
    // Lifecycle hook timeouts: the default result applies.
    for (const m of [...this.members.values(), ...this.pool.values()]) {
      if (
        (m.lifecycle === 'Pending:Wait' ||
          m.lifecycle === 'Terminating:Wait' ||
          m.lifecycle === 'Warmed:Pending:Wait' ||
          m.lifecycle === 'Warmed:Terminating:Wait') &&
        m.hookDeadline !== undefined
      ) {
        if (now >= m.hookDeadline) {
          this.stats.hookTimeouts++;
          const launching = m.lifecycle === 'Pending:Wait' || m.lifecycle === 'Warmed:Pending:Wait';
          const result = launching ? this.opts.launchDefaultResult : this.opts.terminateDefaultResult;
          const hook: LifecycleHook = launching ? 'launching' : 'terminating';
          const global = m.hookGlobalDeadline !== undefined && now >= m.hookGlobalDeadline;
          this.k.log(
            'asg',
            `lifecycle ${hook} ${m.id} timed out${global ? ' (global timeout)' : ''}: default ${result}`,
          );
          this.onHookTimeout(m, hook, result, global);
          this.hookEnds.set(m.id, { kind: 'hook-timeout', hook, result, global });
          this.finishHook(m, result);
        }
      }
    }
    this.checkPoolHealth();
    // Health checks: EC2 status checks (terminated or impaired) and SetInstanceHealth.
    for (const m of [...this.members.values()]) {
      const inst = this.ec2.get(m.id) as SimInstance;
      if (m.lifecycle === 'InService' || m.lifecycle === 'Pending:Wait' || m.lifecycle === 'Pending') {
        if (this.ec2.impaired(inst, this.opts.impairedGraceMs) && m.health === 'Healthy') {
          m.health = 'Unhealthy';
          this.k.log('asg', `${m.id} (${m.zone}) failed EC2 status checks: Unhealthy`);
        }
        if (m.health === 'Unhealthy' && (m.lifecycle === 'InService' || inst.state === 'terminated')) {
          this.startTermination(m, 'replacing Unhealthy instance');
        }
      }
    }
    this.refillPool();
    const active = this.active();
    const pending = active.filter((m) => m.lifecycle.startsWith('Pending'));
    const available = this.zones.available();
    // Capacity: launch replacements in the zones with the fewest instances among the healthy ones.
    if (active.length < this.opts.desired && available.length > 0) {
      for (let n = active.length; n < this.opts.desired; n++) {
        this.launch(this.smallestZone(available), 'capacity', false);
      }
      return;
    }
    if (pending.length > 0) return;
    // Too many (after a rebalance launch went InService): terminate in the zone with the most.
    if (active.length > this.opts.desired) {
      const victim = this.pickVictim(active);
      if (victim)
        this.startTermination(victim, 'AZ rebalance: terminating after its replacement is InService');
      return;
    }
    // AZ rebalance: launch in the emptiest available zone first.
    if (available.length > 1 && this.members.size === active.length) {
      const counts = this.counts(active, available);
      const min = Math.min(...counts.values());
      const max = Math.max(...counts.values());
      const limit = this.opts.max + Math.max(1, Math.floor(this.opts.max * 0.1));
      if (max - min > 1 && active.length < limit) {
        this.stats.rebalances++;
        this.launch(this.smallestZone(available), 'AZ rebalance', true);
      }
    }
  }

  /**
   * Health checks of the pool's instances (warm-pools-health-checks-monitor-view-status): none until
   * the instance's lifecycle hook finishes (so not in Warmed:Pending:Wait, whose hook's timeout
   * applies instead), no grace period after it. A Running pool instance is judged by EC2 status
   * checks, as a group instance is (terminated, or its zone down for `impairedGraceMs`); a Stopped
   * one by its EBS volume's status (DescribeVolumeStatus): terminated, its root volume is gone with
   * it (DeleteOnTermination). Our assumption: a zone outage does not fail a stopped instance's volume
   * status (AWS does not say it does); that instance stays in the pool and cannot start there.
   * An unhealthy one is terminated, here through the terminating hook (Warmed:Terminating:Wait) as any
   * instance leaving the pool, and the pool launches a new one; AWS says "usually within a few
   * minutes" after the failed check: here at the group's next activity tick.
   */
  private checkPoolHealth(): void {
    const running = this.opts.warmPool?.state === 'Running';
    for (const m of [...this.pool.values()]) {
      if (
        m.lifecycle !== 'Warmed:Pending:Proceed' &&
        m.lifecycle !== 'Warmed:Stopped' &&
        m.lifecycle !== 'Warmed:Running'
      )
        continue;
      const inst = this.ec2.get(m.id);
      const failed =
        !inst ||
        inst.state === 'terminated' ||
        (running && this.ec2.impaired(inst, this.opts.impairedGraceMs));
      if (!failed) continue;
      m.health = 'Unhealthy';
      this.k.log(
        'asg',
        `warm pool: ${m.id} (${m.zone}) ${m.lifecycle} failed ${running ? 'EC2 status checks' : 'its EBS volume status check'}${inst?.state === 'terminated' ? ' (terminated)' : ''}: Unhealthy`,
      );
      this.terminatePoolInstance(m, 'replacing an Unhealthy warm pool instance');
    }
  }

  private counts(active: GroupMember[], zones: string[]): Map<string, number> {
    const counts = new Map<string, number>(zones.map((z) => [z, 0]));
    for (const m of active) if (counts.has(m.zone)) counts.set(m.zone, (counts.get(m.zone) as number) + 1);
    return counts;
  }

  private smallestZone(available: string[]): string {
    const counts = this.counts(this.active(), available);
    const min = Math.min(...counts.values());
    return this.k.rng.pick(available.filter((z) => counts.get(z) === min));
  }

  /** SetInstanceProtection (`tripod restore` keeps the seed while the group shrinks). */
  setProtection(instanceId: string, on: boolean): void {
    const m = this.members.get(instanceId);
    if (!m) {
      throw new SimAwsError(
        'ValidationError',
        `The instance ${instanceId} is not part of Auto Scaling group ${this.name}.`,
        400,
        this.k.rng.hex(8),
      );
    }
    m.protectedFromScaleIn = on;
  }

  private pickVictim(all: GroupMember[]): GroupMember | undefined {
    // Protected instances are never chosen (AWS: scale-in skips them; all protected, nothing happens).
    const active = all.filter((m) => !m.protectedFromScaleIn);
    if (active.length === 0) return undefined;
    const counts = this.counts(active, [...new Set(active.map((m) => m.zone))]);
    const max = Math.max(...counts.values());
    const candidates = active.filter((m) => counts.get(m.zone) === max);
    // Default termination policy: zone with the most instances, then the oldest launch.
    candidates.sort((a, b) => a.launchTime - b.launchTime || (a.id < b.id ? -1 : 1));
    return candidates[0];
  }

  private launch(zone: string, why: string, rebalance: boolean): void {
    if (this.fromPool(zone, why, rebalance)) return;
    if (this.opts.warmPool) this.stats.coldStarts++;
    const inst = this.ec2.launch(zone, this.name);
    this.stats.launched++;
    const hb = this.opts.hookHeartbeatMs;
    const now = this.k.now();
    const m: GroupMember = {
      id: inst.id,
      zone,
      lifecycle: hb === undefined ? 'Pending' : 'Pending:Wait',
      health: 'Healthy',
      launchTime: now,
      ...(rebalance ? { rebalance } : {}),
    };
    this.members.set(inst.id, m);
    this.k.log('asg', `launch ${inst.id} in ${zone} (${inst.ip}): ${why}`);
    if (hb !== undefined) {
      this.awaitHook(m, 'launch');
    } else {
      this.k.after(1_000, () => this.enterService(m));
    }
  }

  private finishHook(m: GroupMember, result: 'CONTINUE' | 'ABANDON'): void {
    m.hookDeadline = undefined;
    if (m.lifecycle === 'Warmed:Pending:Wait') {
      if (result === 'ABANDON') {
        this.terminateIn(m, 'Warmed:Terminating');
        return;
      }
      // Its warm-up is done: into the pool's state (a stopped instance shuts down first).
      m.lifecycle = 'Warmed:Pending:Proceed';
      this.k.after(1_000, () => this.proceedIntoPool(m));
      return;
    }
    if (m.lifecycle === 'Pending:Wait') {
      if (result === 'ABANDON') {
        this.bus.emit({
          source: 'aws.autoscaling',
          detailType: 'EC2 Instance Launch Unsuccessful',
          instanceId: m.id,
        });
        this.terminateIn(m, 'Terminating');
        return;
      }
      m.lifecycle = 'Pending:Proceed';
      this.k.after(1_000, () => this.enterService(m));
      return;
    }
    // CONTINUE or ABANDON: an instance leaving the group or the pool terminates either way.
    if (m.lifecycle === 'Terminating:Wait') this.terminateIn(m, 'Terminating:Proceed');
    else if (m.lifecycle === 'Warmed:Terminating:Wait') this.terminateIn(m, 'Warmed:Terminating:Proceed');
  }

  /**
   * A lifecycle hook holds `m` (Pending:Wait, Terminating:Wait or their Warmed: forms): its heartbeat
   * timeout and global timeout (min(48 h, 100 x heartbeat)) start now, and EventBridge gets the
   * lifecycle action event.
   */
  private awaitHook(m: GroupMember, transition: 'launch' | 'terminate', detail?: string): void {
    const now = this.k.now();
    const heartbeatMs = this.heartbeatMs(transition);
    m.hookDeadline = now + heartbeatMs;
    m.hookGlobalDeadline = now + Math.min(48 * 3_600_000, 100 * heartbeatMs);
    this.bus.emit({
      source: 'aws.autoscaling',
      detailType: `EC2 Instance-${transition} Lifecycle Action`,
      instanceId: m.id,
      ...(detail !== undefined ? { detail } : {}),
    });
  }

  /** The heartbeat timeout of the group's hook for `transition` (0 without hooks). */
  private heartbeatMs(transition: 'launch' | 'terminate'): number {
    const hb = this.opts.hookHeartbeatMs ?? 0;
    return transition === 'terminate' ? (this.opts.terminateHookHeartbeatMs ?? hb) : hb;
  }

  private enterService(m: GroupMember): void {
    if (m.lifecycle !== 'Pending:Proceed' && m.lifecycle !== 'Pending') return;
    m.lifecycle = 'InService';
    this.k.log('asg', `${m.id} InService`);
    for (const tg of this.opts.targetGroups) tg.register(m.id);
    this.bus.emit({
      source: 'aws.autoscaling',
      detailType: 'EC2 Instance Launch Successful',
      instanceId: m.id,
    });
  }

  /**
   * `m` terminates: with a terminating hook it waits in Terminating:Wait (a pool instance in
   * Warmed:Terminating:Wait) until the hook is completed or times out, else it goes at once. A group
   * instance leaves its target groups first; `why` is logged (the pool logs its own reason).
   */
  private startTermination(m: GroupMember, why?: string): void {
    const pooled = this.pool.has(m.id);
    if (why !== undefined) this.k.log('asg', `terminate ${m.id} (${m.zone}): ${why}`);
    if (!pooled) for (const tg of this.opts.targetGroups) tg.deregister(m.id);
    if (this.opts.hookHeartbeatMs === undefined) {
      this.terminateIn(m, pooled ? 'Warmed:Terminating' : 'Terminating');
      return;
    }
    m.lifecycle = pooled ? 'Warmed:Terminating:Wait' : 'Terminating:Wait';
    this.awaitHook(m, 'terminate', pooled ? 'Origin WarmPool, Destination EC2' : undefined);
  }

  /** `m` is in a last state before it is gone (no lifecycle action waits): terminated 2 s on. */
  private terminateIn(m: GroupMember, state: LifecycleState): void {
    m.hookDeadline = undefined;
    m.lifecycle = state;
    this.k.after(2_000, () => this.terminated(m));
  }

  private terminated(m: GroupMember): void {
    if (this.pool.delete(m.id)) {
      m.lifecycle = 'Warmed:Terminated';
      this.hookEnds.delete(m.id);
      this.stats.terminated++;
      this.ec2.terminate(m.id);
      this.k.log('asg', `${m.id} Warmed:Terminated`);
      this.dropDeletedPool();
      return;
    }
    if (!this.members.has(m.id)) return;
    const inst = this.ec2.get(m.id);
    this.onTerminate(m, this.hookEnds.get(m.id) ?? { kind: 'no-hook' }, inst?.state !== 'terminated');
    this.hookEnds.delete(m.id);
    m.lifecycle = 'Terminated';
    this.members.delete(m.id);
    this.stats.terminated++;
    this.ec2.terminate(m.id);
    this.k.log('asg', `${m.id} Terminated`);
    this.bus.emit({
      source: 'aws.autoscaling',
      detailType: 'EC2 Instance Terminate Successful',
      instanceId: m.id,
    });
  }
}
