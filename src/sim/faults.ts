/**
 * Random fault schedules from a seed: what production throws at a cluster. Destructive faults (an
 * instance killed, a zone lost, an etcd service that cannot restart, a member cut off from its
 * peers, a long partition) take voters away; they may overlap as long as together they stay within
 * the cluster's fault tolerance (M minus quorum): the generator keeps that budget, each fault
 * holding its share until it ended and the cluster had HEAL_GAP_MS to heal. No reconciler can bring
 * back a cluster that lost quorum for good (that is `tripod restore`'s job). Everything else can
 * happen at any time, together: crashes that systemd restarts, short partitions, lost or duplicated
 * events, throttling, reconciler crashes, healthy masters terminated through their hook (AZ
 * rebalancing, instance refresh, an operator, a health check), snapshots that fail or are slow, the
 * reconciler cut off from etcd, every member crash-looping for minutes (that one exceeds the
 * tolerance by design: quorum is lost, and nothing may destroy a voter's data meanwhile), boot failures,
 * a warm pool instance lost (EC2 terminates it while it prepares, stops or waits; not a voter).
 */
import { autoMasterCount, quorumOf } from '../cluster-spec/topology.js';
import type { SimCloud } from './cloud.js';
import type { ReconcilerLambda } from './lambda.js';
import type { Random } from './random.js';

/** The faults `tripod simulate` threw before issue 14 (their seeds stay green on the old rules). */
export const LEGACY_FAULT_KINDS = [
  'kill',
  'zone-outage',
  'zone-recovery',
  'etcd-crash',
  'partition',
  'event-loss',
  'event-dup',
  'throttle',
  'reconciler-crash',
] as const;

export const FAULT_KINDS = [
  ...LEGACY_FAULT_KINDS,
  'terminate-healthy',
  'snapshot-fail',
  'snapshot-slow',
  'peer-cut',
  'etcd-unreachable',
  'crash-loop',
  'boot-failure',
  'warm-pool-loss',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Who terminates a healthy master (terminate-healthy). */
export const TERMINATION_CAUSES = ['rebalance', 'instance-refresh', 'operator', 'health-check'] as const;
export type TerminationCause = (typeof TERMINATION_CAUSES)[number];

export interface ScheduledFault {
  /** ms since the start of the simulation. */
  at: number;
  kind: FaultKind | 'zone-recovery';
  /** How long its effect lasts (ms), where that applies. */
  durationMs?: number;
  /** Which zone / which master (index into the group's instances, taken when the fault fires). */
  pick: number;
  /** etcd-crash: the service cannot restart. */
  permanent?: boolean;
  rate?: number;
  /** terminate-healthy: who terminates it. */
  cause?: TerminationCause;
  /** snapshot-slow: how long one snapshot streams. */
  slowMs?: number;
  /** boot-failure: how many boots fail; whether the node writes its boot-failed record. */
  count?: number;
  record?: boolean;
  /** Voters this fault takes away at most (its share of the fault tolerance; 0: not destructive). */
  slots?: number;
}

const MIN = 60_000;
/** Time for the first cluster to form once the reconciler reaches etcd (seed, then learners one by one). */
const FORM_MS = 6 * MIN;
/** Time for the cluster to heal after a destructive fault before the next one. */
const HEAL_GAP_MS = 20 * MIN;
/**
 * What a failing replacement boot adds to a heal: a reported failure (boot-failed record) is
 * abandoned at once and relaunched (a boot of the honest boot model, a few minutes); a silent one
 * hangs until the boot timeout (900 s, cloud.ts bootTimeoutMs) and is then relaunched.
 */
const BOOT_FAILURE_REPORTED_MS = 5 * MIN;
const BOOT_FAILURE_SILENT_MS = 20 * MIN;

export function parseFaults(list: string): FaultKind[] {
  const kinds = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw new Error(`unknown fault "${k}" (known: ${FAULT_KINDS.join(', ')})`);
    }
  }
  return kinds as FaultKind[];
}

/** A destructive fault's hold on the fault tolerance: from `from` until `until`. */
interface Hold {
  from: number;
  until: number;
  slots: number;
}

/**
 * A schedule of 1-6 faults starting a few minutes in; `end` is when the last effect is over.
 * A destructive fault starts when the voters already taken by the destructive faults still holding
 * (until they ended plus HEAL_GAP_MS) plus its own stay within the fault tolerance M - quorum, or,
 * when it alone exceeds that (one master, a zone holding more), once no other holds. With fewer
 * than 3 zones there are no zone outages: losing the zone with most masters loses quorum, as the
 * plan warns.
 */
export function generateSchedule(
  rng: Random,
  kinds: readonly FaultKind[],
  zoneCount: number,
  /** At most this many faults (6; the real etcd back end asks for fewer: it runs in real time). */
  maxFaults = 6,
  /** M (default: one per zone, at least 3, odd). */
  masters = autoMasterCount(zoneCount),
): { faults: ScheduledFault[]; end: number } {
  const faults: ScheduledFault[] = [];
  const tolerance = masters - quorumOf(masters);
  const perZone = Math.ceil(masters / Math.max(1, zoneCount));
  // With fewer than 3 zones a zone loss is not survivable (the topology says so): no zone outages.
  const usable = kinds.filter((k) => k !== 'zone-recovery' && (k !== 'zone-outage' || zoneCount >= 3));
  let t = rng.int(2 * MIN, 8 * MIN);
  // The first cluster forms in the first minutes: a destructive fault before that could leave it without quorum.
  let firstDestructive = 10 * MIN;
  const holds: Hold[] = [];
  /** When the reconciler cannot reach etcd (etcd-unreachable): nothing heals then. */
  const cuts: Array<{ from: number; until: number }> = [];
  /** A hold lasts until the cluster had HEAL_GAP_MS to heal after every cut that overlaps it. */
  const extend = (h: Hold) => {
    for (const c of cuts)
      if (c.from < h.until && h.from < c.until) h.until = Math.max(h.until, c.until + HEAL_GAP_MS);
  };
  /**
   * Failing boots still to come (boot-failure): the next replacement launches fail, so the heal of
   * the destructive fault they hit takes that much longer. A hold active when the boot failure is
   * scheduled, and the next hold to start after it, each take the delay: whichever replacement boots
   * next fails, and a schedule cannot know which.
   */
  let pendingBootDelay = 0;
  const held = (at: number) => holds.reduce((n, h) => n + (h.from <= at && at < h.until ? h.slots : 0), 0);
  /** The earliest time from `at` when `slots` more voters fit in the budget. */
  const earliestFit = (at: number, slots: number): number => {
    const candidates = [Math.max(at, firstDestructive), ...holds.map((h) => h.until)]
      .filter((c) => c >= Math.max(at, firstDestructive))
      .sort((a, b) => a - b);
    for (const c of candidates) {
      const used = held(c);
      if (used === 0 || used + slots <= tolerance) return c;
    }
    return Math.max(at, firstDestructive, ...holds.map((h) => h.until));
  };
  let end = t;
  if (usable.length === 0) return { faults, end };
  const count = rng.int(1, maxFaults);
  for (let n = 0; n < count; n++) {
    const kind = rng.pick(usable);
    const f: ScheduledFault = { at: t, kind, pick: rng.nextU32() };
    let slots = 0;
    switch (kind) {
      case 'kill':
        slots = 1;
        break;
      case 'zone-outage':
        slots = perZone;
        // Without zone-recovery the zone stays down until the faults stop.
        f.durationMs = kinds.includes('zone-recovery') ? rng.int(2 * MIN, 20 * MIN) : 10 * MIN;
        break;
      case 'etcd-crash':
        f.permanent = rng.chance(0.3);
        slots = f.permanent ? 1 : 0;
        break;
      case 'partition': {
        const long = rng.chance(0.5);
        slots = long ? perZone : 0;
        f.durationMs = long ? rng.int(3 * MIN, 10 * MIN) : rng.int(10_000, 90_000);
        break;
      }
      case 'event-loss':
      case 'event-dup':
        f.durationMs = rng.int(5 * MIN, 20 * MIN);
        f.rate = 0.3 + 0.7 * rng.next();
        break;
      case 'throttle':
        f.durationMs = rng.int(MIN, 5 * MIN);
        f.rate = 0.2 + 0.6 * rng.next();
        break;
      case 'reconciler-crash':
        f.durationMs = rng.int(3 * MIN, 15 * MIN);
        f.rate = 0.3 + 0.5 * rng.next();
        break;
      case 'terminate-healthy':
        // Through its hook: the member still serves until the reconciler lets it go; then its voter
        // is gone until the replacement is promoted, like a kill's.
        f.cause = rng.pick(TERMINATION_CAUSES);
        slots = 1;
        break;
      case 'snapshot-fail':
        f.durationMs = rng.int(5 * MIN, 60 * MIN);
        break;
      case 'snapshot-slow':
        f.durationMs = rng.int(5 * MIN, 60 * MIN);
        // A large database: some fit the function's timeout, some do not.
        f.slowMs = rng.int(30_000, 600_000);
        break;
      case 'peer-cut':
        slots = 1;
        f.durationMs = rng.int(MIN, 15 * MIN);
        break;
      case 'etcd-unreachable':
        f.durationMs = rng.int(2 * MIN, 20 * MIN);
        if (f.at < firstDestructive) {
          // While the reconciler cannot reach etcd the first cluster cannot grow past its seed: one
          // voter, no fault tolerance. Destructive faults wait until it had time to form after the
          // cut; when one is already placed, the cut ends early enough for the cluster to form first.
          const placed = faults.some(
            (o) => (o.slots ?? 0) > 0 || o.kind === 'terminate-healthy' || o.kind === 'crash-loop',
          );
          if (placed) f.durationMs = Math.max(MIN, Math.min(f.durationMs, firstDestructive - FORM_MS - f.at));
          else firstDestructive = Math.max(firstDestructive, f.at + f.durationMs + FORM_MS);
        }
        // A voter taken before or during the cut is replaced only after it.
        cuts.push({ from: f.at, until: f.at + f.durationMs });
        for (const h of holds) extend(h);
        break;
      case 'crash-loop':
        f.durationMs = rng.int(2 * MIN, 10 * MIN);
        f.at = Math.max(t, firstDestructive);
        break;
      case 'boot-failure': {
        f.count = rng.int(1, 2);
        f.record = rng.chance(0.7);
        const delay = f.count * (f.record ? BOOT_FAILURE_REPORTED_MS : BOOT_FAILURE_SILENT_MS);
        for (const h of holds) if (h.from <= f.at && f.at < h.until) h.until += delay;
        pendingBootDelay += delay;
        break;
      }
      case 'warm-pool-loss':
        // Not destructive: a pool instance runs no etcd member.
        break;
    }
    if (slots > 0) {
      f.at = earliestFit(t, slots);
      f.slots = slots;
      const hold = { from: f.at, until: f.at + (f.durationMs ?? 0) + HEAL_GAP_MS + pendingBootDelay, slots };
      pendingBootDelay = 0;
      extend(hold);
      holds.push(hold);
    }
    faults.push(f);
    if (kind === 'zone-outage') {
      if (kinds.includes('zone-recovery')) {
        faults.push({ at: f.at + (f.durationMs as number), kind: 'zone-recovery', pick: f.pick });
      } else {
        end = Math.max(end, f.at + (f.durationMs as number));
        break;
      }
    }
    end = Math.max(end, f.at + (f.durationMs ?? 0));
    t = f.at + rng.int(MIN / 2, 4 * MIN);
  }
  faults.sort((a, b) => a.at - b.at);
  return { faults, end };
}

/** Apply one fault to the cloud now. */
export function applyFault(cloud: SimCloud, lambda: ReconcilerLambda, f: ScheduledFault): void {
  const k = cloud.k;
  const now = k.now();
  const zones = cloud.zones.names;
  const zone = zones[f.pick % zones.length] as string;
  const masters = [...cloud.group.members.values()].filter((m) => !m.lifecycle.startsWith('Terminat'));
  const master = masters.length > 0 ? masters[f.pick % masters.length] : undefined;
  const healthy = masters.filter((m) => m.lifecycle === 'InService' && m.health === 'Healthy');
  const healthyMaster = healthy.length > 0 ? healthy[f.pick % healthy.length] : undefined;
  const dur = f.durationMs ?? 0;
  const mins = (ms: number) => `${(ms / MIN).toFixed(1)} min`;
  switch (f.kind) {
    case 'kill': {
      if (!master) {
        k.log('fault', 'kill: no master to kill');
        return;
      }
      k.log('fault', `kill ${master.id} (${master.zone})`);
      cloud.faults.killed.add(master.id);
      cloud.ec2.terminate(master.id);
      cloud.networkChanged();
      return;
    }
    case 'zone-outage':
      k.log('fault', `zone outage ${zone}${f.durationMs ? ` for ${mins(dur)}` : ''}`);
      cloud.zones.fail(zone, now);
      cloud.networkChanged();
      return;
    case 'zone-recovery':
      if (cloud.zones.isUp(zone)) return;
      k.log('fault', `zone ${zone} recovers`);
      cloud.zones.recover(zone);
      cloud.networkChanged();
      return;
    case 'etcd-crash': {
      if (!master) return;
      k.log('fault', `etcd service crashes on ${master.id}${f.permanent ? ' and cannot restart' : ''}`);
      cloud.nodes.crashEtcd(master.id, !!f.permanent);
      return;
    }
    case 'partition':
      k.log('fault', `partition: ${zone} cut off from the other zones for ${mins(dur)}`);
      cloud.zones.partition(zone);
      cloud.networkChanged();
      k.after(dur, () => {
        cloud.zones.heal(zone);
        k.log('fault', `partition of ${zone} healed`);
        cloud.networkChanged();
      });
      return;
    case 'event-loss':
      k.log('fault', `EventBridge loses ${Math.round((f.rate ?? 0) * 100)}% of events for ${mins(dur)}`);
      cloud.bus.degrade({ until: now + dur, loss: f.rate ?? 0.5 });
      return;
    case 'event-dup':
      k.log('fault', `EventBridge duplicates and delays events for ${mins(dur)}`);
      cloud.bus.degrade({ until: now + dur, duplicate: f.rate ?? 0.5, late: 0.5, lateMs: 5 * MIN });
      return;
    case 'throttle':
      k.log('fault', `AWS APIs throttle/5xx ${Math.round((f.rate ?? 0) * 100)}% of calls for ${mins(dur)}`);
      cloud.apiFaults.degrade(now + dur, f.rate ?? 0.5);
      return;
    case 'reconciler-crash':
      k.log(
        'fault',
        `reconciler crashes mid-pass (${Math.round((f.rate ?? 0) * 100)}% of invocations) for ${mins(dur)}`,
      );
      lambda.crashRate = f.rate ?? 0.5;
      lambda.crashUntil = now + dur;
      return;
    case 'terminate-healthy': {
      if (!healthyMaster) {
        k.log('fault', 'terminate-healthy: no InService master');
        return;
      }
      const id = healthyMaster.id;
      switch (f.cause ?? 'operator') {
        case 'rebalance':
          // The group launches first and terminates the oldest of the fullest zone once that is InService.
          k.log('fault', 'AZ rebalancing: the group launches one more master, then terminates one');
          if (!cloud.group.rebalanceLaunch('AZ rebalance')) k.log('fault', 'AZ rebalancing: at max size');
          return;
        case 'instance-refresh':
          k.log('fault', `instance refresh replaces ${id} (${healthyMaster.zone})`);
          cloud.group.terminateInstance(id, 'instance refresh: replacing an outdated instance');
          return;
        case 'operator':
          k.log('fault', `an operator terminates ${id} (TerminateInstanceInAutoScalingGroup)`);
          cloud.group.terminateInstance(id, 'TerminateInstanceInAutoScalingGroup (operator)');
          return;
        case 'health-check':
          k.log('fault', `${id} reported Unhealthy by a health check outside the reconciler`);
          cloud.group.setUnhealthy(id, 'a health check (kubelet down, EC2/ELB health)');
          return;
      }
      return;
    }
    case 'snapshot-fail':
      k.log('fault', `snapshots fail (S3/KMS access denied) for ${mins(dur)}`);
      cloud.faults.backup = {
        until: now + dur,
        fail: 'User is not authorized to perform: kms:GenerateDataKey (the key is disabled)',
      };
      return;
    case 'snapshot-slow':
      k.log('fault', `snapshots take ${((f.slowMs ?? 0) / 1000).toFixed(0)} s each for ${mins(dur)}`);
      cloud.faults.backup = { until: now + dur, slowMs: f.slowMs ?? 300_000 };
      return;
    case 'peer-cut': {
      if (!master) return;
      const ip = cloud.ec2.get(master.id)?.ip;
      if (!ip) return;
      k.log(
        'fault',
        `${master.id} cut off from its etcd peers (2380) for ${mins(dur)}; the reconciler still reaches it`,
      );
      cloud.faults.peerCut.add(ip);
      cloud.networkChanged();
      k.after(dur, () => {
        if (!cloud.faults.peerCut.delete(ip)) return;
        k.log('fault', `${master.id} reaches its peers again`);
        cloud.networkChanged();
      });
      return;
    }
    case 'etcd-unreachable':
      k.log('fault', `the reconciler cannot reach etcd (2379) for ${mins(dur)}`);
      cloud.faults.etcdCutUntil = Math.max(cloud.faults.etcdCutUntil, now + dur);
      return;
    case 'crash-loop':
      k.log('fault', `etcd crash-loops on every master for ${mins(dur)}`);
      for (const m of masters) cloud.nodes.crashLoop(m.id, now + dur);
      return;
    case 'boot-failure':
      k.log(
        'fault',
        `the next ${f.count ?? 1} master boot(s) fail${f.record ? ' (the node writes its boot-failed record)' : ' silently'}`,
      );
      cloud.nodes.failNextBoots(f.count ?? 1, 'kubeadm join failed: bad package', f.record ?? true);
      return;
    case 'warm-pool-loss': {
      // EC2 loses the instance under the pool (a host failure, an EBS volume lost, someone's
      // TerminateInstances), whatever its state: preparing, stopping, Stopped or Running. The group
      // finds out by its pool health check, or by the warm-up hook's timeout while that still holds it.
      const pooled = [...cloud.group.pool.values()].filter((m) => !m.lifecycle.startsWith('Warmed:Terminat'));
      const victim = pooled.length > 0 ? pooled[f.pick % pooled.length] : undefined;
      if (!victim) {
        k.log('fault', 'warm-pool-loss: no warm pool instance');
        return;
      }
      k.log('fault', `EC2 loses the warm pool instance ${victim.id} (${victim.zone}, ${victim.lifecycle})`);
      cloud.faults.killed.add(victim.id);
      cloud.ec2.terminate(victim.id);
      return;
    }
  }
}

/** The faults stop: every zone recovers, every partition heals. */
export function endFaults(cloud: SimCloud): void {
  for (const z of cloud.zones.names) {
    if (!cloud.zones.isUp(z)) {
      cloud.zones.recover(z);
      cloud.k.log('fault', `zone ${z} recovers (faults stop)`);
    }
    if (cloud.zones.isPartitioned(z)) cloud.zones.heal(z);
  }
  cloud.faults.peerCut.clear();
  cloud.faults.etcdCutUntil = Math.min(cloud.faults.etcdCutUntil, cloud.k.now());
  cloud.faults.backup = undefined;
  cloud.networkChanged();
}
