/**
 * Random fault schedules from a seed. Destructive faults (an instance killed, a zone lost, an etcd
 * service that cannot restart) are spaced so that one heals before the next: no reconciler can
 * bring back a cluster that lost quorum for good (that is `tripod restore`'s job). Everything else
 * (crashes that systemd restarts, partitions, lost or duplicated events, throttling, reconciler
 * crashes) can happen at any time, together.
 */
import type { SimCloud } from './cloud.js';
import type { ReconcilerLambda } from './lambda.js';
import type { Random } from './random.js';

export const FAULT_KINDS = [
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
export type FaultKind = (typeof FAULT_KINDS)[number];

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
}

const MIN = 60_000;
/** Time for the cluster to heal after a destructive fault before the next one. */
const HEAL_GAP_MS = 20 * MIN;

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

/**
 * A schedule of 1-6 faults starting a few minutes in; `end` is when the last effect is over.
 * Destructive faults (a kill, a zone outage, an etcd service that cannot restart, a partition
 * longer than the reconciler's unhealthy threshold, after which it replaces the cut-off master)
 * start at least HEAL_GAP_MS after the previous destructive one ended. With fewer than 3 zones
 * there are no zone outages: losing the zone with most masters loses quorum, as the plan warns.
 */
export function generateSchedule(
  rng: Random,
  kinds: readonly FaultKind[],
  zoneCount: number,
  /** At most this many faults (6; the real etcd back end asks for fewer: it runs in real time). */
  maxFaults = 6,
): { faults: ScheduledFault[]; end: number } {
  const faults: ScheduledFault[] = [];
  // With fewer than 3 zones a zone loss is not survivable (the topology says so): no zone outages.
  const usable = kinds.filter((k) => k !== 'zone-recovery' && (k !== 'zone-outage' || zoneCount >= 3));
  let t = rng.int(2 * MIN, 8 * MIN);
  // The first cluster forms in the first minutes: a destructive fault before that could leave it without quorum.
  let nextDestructive = 10 * MIN;
  let end = t;
  if (usable.length === 0) return { faults, end };
  const count = rng.int(1, maxFaults);
  for (let n = 0; n < count; n++) {
    const kind = rng.pick(usable);
    const f: ScheduledFault = { at: t, kind, pick: rng.nextU32() };
    let destructive = false;
    switch (kind) {
      case 'kill':
        destructive = true;
        break;
      case 'zone-outage':
        destructive = true;
        // Without zone-recovery the zone stays down until the faults stop.
        f.durationMs = kinds.includes('zone-recovery') ? rng.int(2 * MIN, 20 * MIN) : 10 * MIN;
        break;
      case 'etcd-crash':
        f.permanent = rng.chance(0.3);
        destructive = f.permanent;
        break;
      case 'partition':
        destructive = rng.chance(0.5);
        f.durationMs = destructive ? rng.int(3 * MIN, 10 * MIN) : rng.int(10_000, 90_000);
        break;
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
    }
    if (destructive) {
      f.at = Math.max(t, nextDestructive);
      nextDestructive = f.at + (f.durationMs ?? 0) + HEAL_GAP_MS;
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
  const dur = f.durationMs ?? 0;
  const mins = (ms: number) => `${(ms / MIN).toFixed(1)} min`;
  switch (f.kind) {
    case 'kill': {
      if (!master) {
        k.log('fault', 'kill: no master to kill');
        return;
      }
      k.log('fault', `kill ${master.id} (${master.zone})`);
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
  cloud.networkChanged();
}
