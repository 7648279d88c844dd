/**
 * Auto Scaling instance refresh in the simulator, as AWS documents it, over the master group of a
 * SimCloud (hooked in from outside: the group itself is untouched):
 *  - every instance remembers the launch template version it was launched from; the provisioner's
 *    apply is `setLaunchTemplateVersion` (new launches get it); a refresh's desired configuration
 *    wins for its replacements while it runs, and becomes the group's when it succeeds;
 *  - MinHealthyPercentage 100 with MaxHealthyPercentage above 100: raise capacity by one (the group
 *    launches into its emptiest zone, through the launch hook), wait for it InService and the
 *    warmup, then terminate one outdated instance from the zone with the most instances (through
 *    the terminate hook), one replacement at a time, a checkpoint after each;
 *  - MaxHealthyPercentage 100: terminate a batch down to the minimum healthy share, the group
 *    replaces it;
 *  - SkipMatching always (instances already on the desired version are kept);
 *  - a warm pool: "an instance refresh first replaces InService instances. Then it replaces instances
 *    in the warm pool" (ec2-auto-scaling-warm-pools, "Update the instances in a warm pool"). Once the
 *    group's instances are all on the desired version, in service and warmed up, every ready pool
 *    instance of another version is terminated (through the terminating hook) and the pool refills
 *    from the desired version; the refresh succeeds once the pool is back to its size of ready
 *    instances of it, each warmed up: InstanceRefreshWarmPoolProgress counts a replacement updated
 *    "when the instance's health status changes to healthy and the specified warm-up time passes"
 *    (the refresh's InstanceWarmup, as for InService instances). From when a pool instance's warm-up
 *    counts is not documented; our assumption: from when it is ready in the pool (Warmed:Stopped or
 *    Warmed:Running, Healthy), its pool's InService. One still preparing is waited for. Not
 *    documented, our assumption: all at once (the pool serves no traffic),
 *    and a launch of the refresh may still take an older pool instance while the group's instances are
 *    replaced (it is then replaced in turn, as any outdated instance);
 *  - cancel finishes the replacement in flight, then stops; rollback refreshes back to the previous
 *    version, unless the template resolves its image from SSM (then AWS refuses it).
 * It also gives the upgrade its port (`port()`), like the AWS adapter does.
 */
import { statusParameter } from '../contract/protocol.js';
import { parseStatus } from '../heal/status.js';
import type {
  GroupView,
  RefreshPreferences,
  RefreshStatus,
  RefreshView,
  UpgradeRecord,
} from '../upgrade/model.js';
import { upgradeParameter } from '../upgrade/model.js';
import type { UpgradePort } from '../upgrade/ports.js';
import { SimAwsError } from './api-errors.js';
import type { AutoScalingGroup, GroupMember } from './auto-scaling.js';
import type { SimCloud } from './cloud.js';

interface SimRefresh {
  id: string;
  status: RefreshStatus;
  desiredVersion: string;
  previousVersion: string;
  preferences: RefreshPreferences;
  startTime: number;
  originalDesired: number;
  total: number;
  replaced: number;
  statusReason?: string;
  /** The group's desired capacity is raised by one for a surge launch. */
  raised: boolean;
}

/** The group's own launch (private to the group's model; the refresh places its surge launches). */
interface GroupLaunch {
  launch(zone: string, why: string, rebalance: boolean): void;
}

const TERMINATING = (m: GroupMember) => m.lifecycle.startsWith('Terminat');
/** A pool instance ready to be taken into the group, and healthy. */
const poolReady = (m: GroupMember) =>
  (m.lifecycle === 'Warmed:Stopped' || m.lifecycle === 'Warmed:Running') && m.health === 'Healthy';

export class SimInstanceRefresh {
  /** The group's launch template default version (what apply last wrote). */
  launchTemplateVersion = '1';
  /** The template resolves its image from an SSM parameter (AWS then refuses a rollback). */
  imageFromSsm = false;
  /** The group runs its template's `$Default` version, as tripod's do (AWS then refuses a rollback). */
  usesDefaultVersion = true;
  /** The master group's `tripod:kubernetes-version` tag. */
  kubernetesVersionTag: string | undefined;
  readonly versions = new Map<string, string>();
  readonly refreshes: SimRefresh[] = [];
  readonly stats = { started: 0, cancelled: 0, checkpoints: 0, surges: 0 };
  private readonly inServiceSince = new Map<string, number>();
  /** When each pool instance was first seen ready (Warmed:Stopped or Warmed:Running, Healthy). */
  private readonly poolReadySince = new Map<string, number>();
  private seq = 0;

  /** The group it refreshes: the master group unless told otherwise (a worker group). */
  readonly group: AutoScalingGroup;

  constructor(
    private readonly cloud: SimCloud,
    private readonly tickMs = 5_000,
    group?: AutoScalingGroup,
  ) {
    const ec2 = cloud.ec2;
    this.group = group ?? cloud.group;
    const name = this.group.name;
    for (const m of [...this.group.members.values(), ...this.group.pool.values()])
      this.versions.set(m.id, this.launchTemplateVersion);
    // The hook: every launch of the group records the version it is launched from.
    const launch = ec2.launch.bind(ec2);
    ec2.launch = (zone, groupName) => {
      const inst = launch(zone, groupName);
      if (groupName === name) this.versions.set(inst.id, this.launchVersion());
      return inst;
    };
    const loop = () => {
      this.tick();
      cloud.k.after(this.tickMs, loop);
    };
    cloud.k.after(this.tickMs, loop);
  }

  private get k() {
    return this.cloud.k;
  }

  active(): SimRefresh | undefined {
    const r = this.refreshes[0];
    return r && ['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress'].includes(r.status)
      ? r
      : undefined;
  }

  private launchVersion(): string {
    const r = this.active();
    return r && r.status !== 'Cancelling' ? r.desiredVersion : this.launchTemplateVersion;
  }

  /** The provisioner's apply: a new launch template version becomes the default. */
  setLaunchTemplateVersion(v: string): void {
    this.launchTemplateVersion = v;
    this.k.log('asg', `launch template default version ${v}`);
  }

  private error(name: string, message: string): SimAwsError {
    return new SimAwsError(name, message, 400, this.k.rng.hex(8));
  }

  start(version: string, preferences: RefreshPreferences): string {
    if (this.active()) {
      throw this.error(
        'InstanceRefreshInProgress',
        `An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.`,
      );
    }
    const id = `${this.k.rng.hex(8)}-${(this.seq++).toString(16).padStart(4, '0')}`;
    const live = [...this.group.members.values()].filter((m) => !TERMINATING(m));
    const r: SimRefresh = {
      id,
      status: 'Pending',
      desiredVersion: version,
      previousVersion: this.mostCommonVersion(live, version),
      preferences,
      startTime: this.k.now(),
      originalDesired: this.group.opts.desired,
      total: [...live, ...this.keptPool()].filter((m) => this.versions.get(m.id) !== version).length,
      replaced: 0,
      raised: false,
    };
    this.refreshes.unshift(r);
    this.stats.started++;
    this.k.log('asg', `instance refresh ${id} started: to version ${version}, ${r.total} to replace`);
    return id;
  }

  cancel(): void {
    const r = this.active();
    if (!r)
      throw this.error('ActiveInstanceRefreshNotFound', 'No in progress or pending Instance Refresh found');
    if (r.status === 'Cancelling') return;
    r.status = 'Cancelling';
    this.stats.cancelled++;
    this.k.log('asg', `instance refresh ${r.id} cancelling`);
  }

  rollback(): void {
    const r = this.active();
    if (!r || (r.status !== 'InProgress' && r.status !== 'Pending'))
      throw this.error('ActiveInstanceRefreshNotFound', 'No in progress or pending Instance Refresh found');
    if (this.imageFromSsm || this.usesDefaultVersion) {
      throw this.error(
        'ValidationError',
        this.imageFromSsm
          ? 'Rollback is not supported: the launch template uses a Systems Manager parameter instead of an AMI ID'
          : 'Rollback is not supported: the Auto Scaling group uses the launch template $Default version',
      );
    }
    r.status = 'RollbackInProgress';
    r.desiredVersion = r.previousVersion;
    this.k.log('asg', `instance refresh ${r.id} rolling back to version ${r.previousVersion}`);
  }

  describe(): RefreshView[] {
    return this.refreshes.map((r) => {
      const live = [...this.group.members.values()].filter((m) => !TERMINATING(m));
      const left = [...live, ...this.keptPool()].filter(
        (m) => this.versions.get(m.id) !== r.desiredVersion,
      ).length;
      const done = r.total === 0 ? 100 : Math.round((100 * Math.max(0, r.total - left)) / r.total);
      return {
        id: r.id,
        status: r.status,
        ...(r.statusReason ? { statusReason: r.statusReason } : {}),
        percentageComplete: ['Successful', 'RollbackSuccessful'].includes(r.status) ? 100 : done,
        instancesToUpdate: this.active() === r ? left : 0,
        desiredVersion: r.desiredVersion,
        startTime: r.startTime,
      };
    });
  }

  private finish(r: SimRefresh, status: RefreshStatus, why: string): void {
    if (r.raised) {
      this.group.opts.desired = r.originalDesired;
      r.raised = false;
    }
    r.status = status;
    if (status === 'Successful' || status === 'RollbackSuccessful')
      this.launchTemplateVersion = r.desiredVersion;
    this.k.log('asg', `instance refresh ${r.id} ${status}: ${why}`);
  }

  tick(): void {
    const now = this.k.now();
    for (const m of this.group.members.values()) {
      if (m.lifecycle === 'InService') {
        if (!this.inServiceSince.has(m.id)) this.inServiceSince.set(m.id, now);
      } else this.inServiceSince.delete(m.id);
    }
    for (const m of this.group.pool.values()) {
      if (poolReady(m)) {
        if (!this.poolReadySince.has(m.id)) this.poolReadySince.set(m.id, now);
      } else this.poolReadySince.delete(m.id);
    }
    for (const id of this.poolReadySince.keys()) if (!this.group.pool.has(id)) this.poolReadySince.delete(id);
    const r = this.active();
    if (!r) return;
    if (r.status === 'Pending') {
      r.status = 'InProgress';
      this.k.log('asg', `instance refresh ${r.id} InProgress`);
    }
    const members = [...this.group.members.values()];
    const live = members.filter((m) => !TERMINATING(m));
    const pending = live.filter((m) => m.lifecycle.startsWith('Pending'));
    const leaving = members.filter(TERMINATING);
    // One replacement at a time: wait for launches and terminations in flight.
    if (pending.length > 0 || leaving.length > 0) return;
    if (r.status === 'Cancelling') {
      this.finish(r, 'Cancelled', `${r.replaced} replaced before the cancel`);
      return;
    }
    const outdated = live.filter((m) => this.versions.get(m.id) !== r.desiredVersion);
    const healthy = live.filter((m) => m.lifecycle === 'InService' && m.health === 'Healthy');
    const warm = (m: GroupMember) =>
      now - (this.inServiceSince.get(m.id) ?? now) >= r.preferences.instanceWarmupSeconds * 1000;
    const desired = r.originalDesired;
    if (outdated.length === 0) {
      if (live.length >= desired && healthy.every(warm) && this.poolReplaced(r))
        this.finish(
          r,
          r.status === 'RollbackInProgress' ? 'RollbackSuccessful' : 'Successful',
          `${r.replaced} replaced`,
        );
      return;
    }
    const minHealthy = Math.ceil((desired * r.preferences.minHealthyPercentage) / 100);
    const maxHealthy = Math.floor((desired * r.preferences.maxHealthyPercentage) / 100);
    if (maxHealthy > desired) {
      // Launch before terminating. More instances than desired (a surge in, or one a cancelled
      // refresh or the group's own healing left): terminate an outdated one first, launch nothing.
      if (!r.raised && live.length <= desired) {
        if (healthy.length < minHealthy || live.length < desired) return; // not healthy enough to start a step
        // Launch into the zone of the instance it will replace (AWS keeps the zones balanced).
        const next = this.pickOutdated(outdated, live);
        const zones = this.cloud.zones.available();
        const zone = zones.includes(next.zone) ? next.zone : this.emptiestZone(live, zones);
        if (zone === undefined) return;
        r.raised = true;
        this.stats.surges++;
        this.group.opts.desired = desired + 1;
        this.k.log(
          'asg',
          `instance refresh ${r.id}: launching a replacement for ${next.id} first (capacity ${desired + 1})`,
        );
        (this.group as unknown as GroupLaunch).launch(zone, `instance refresh ${r.id}`, false);
        return;
      }
      const fresh = live.filter(
        (m) => this.versions.get(m.id) === r.desiredVersion && m.lifecycle === 'InService',
      );
      if (live.length <= desired || !fresh.every(warm)) return; // the surge failed: the group relaunches it
      if (healthy.length - 1 < minHealthy) return;
      const victim = this.pickOutdated(outdated, live);
      r.raised = false;
      this.group.opts.desired = desired;
      r.replaced++;
      this.group.terminateInstance(
        victim.id,
        `instance refresh ${r.id}: replaced by version ${r.desiredVersion}`,
      );
      this.checkpoint(r);
      return;
    }
    // Terminate first, in a batch down to the minimum healthy share.
    const batch = Math.max(1, healthy.length - minHealthy);
    if (healthy.length < desired && healthy.length <= minHealthy && minHealthy > 0) return;
    for (let n = 0; n < batch && outdated.length > 0; n++) {
      const victim = this.pickOutdated(outdated, live);
      outdated.splice(outdated.indexOf(victim), 1);
      r.replaced++;
      this.group.terminateInstance(victim.id, `instance refresh ${r.id}: replacing`);
    }
    this.checkpoint(r);
  }

  /** The warm pool's instances that stay in it (not leaving through Warmed:Terminating*). */
  private keptPool(): GroupMember[] {
    return [...this.group.pool.values()].filter((m) => !m.lifecycle.startsWith('Warmed:Terminat'));
  }

  /**
   * The warm pool's part, after the group's instances: terminates the ready pool instances of another
   * version (the pool refills from the desired one). True once the pool is back to its size of
   * ready instances of the desired version, none leaving, each ready for the refresh's warm-up.
   */
  private poolReplaced(r: SimRefresh): boolean {
    // InstanceRefreshWarmPoolProgress counts an instance updated once it is healthy and its warm-up
    // has passed. One whose EC2 instance is gone fails the pool's health check and is replaced
    // (AutoScalingGroup checkPoolHealth): the refresh waits for its replacement, not for it.
    const now = this.k.now();
    const warmedUp = (m: GroupMember) =>
      poolReady(m) &&
      now - (this.poolReadySince.get(m.id) ?? now) >= r.preferences.instanceWarmupSeconds * 1000;
    const stale = this.keptPool().filter((m) => this.versions.get(m.id) !== r.desiredVersion);
    for (const m of stale.filter(poolReady)) {
      r.replaced++;
      this.group.terminatePoolMember(
        m.id,
        `instance refresh ${r.id}: a warm pool instance of version ${this.versions.get(m.id)}, replaced by version ${r.desiredVersion}`,
      );
    }
    if (stale.some(poolReady)) this.checkpoint(r);
    // Back to its size: a terminated stale instance is out of the pool before its refill is launched.
    return (
      stale.length === 0 &&
      this.group.poolShort() === undefined &&
      [...this.group.pool.values()].every(warmedUp)
    );
  }

  private mostCommonVersion(live: GroupMember[], except: string): string {
    const counts = new Map<string, number>();
    for (const m of live) {
      const v = this.versions.get(m.id) ?? '';
      if (v !== except) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    return (
      [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ??
      this.launchTemplateVersion
    );
  }

  private emptiestZone(live: GroupMember[], zones: string[]): string | undefined {
    const count = (z: string) => live.filter((m) => m.zone === z).length;
    return [...zones].sort((a, b) => count(a) - count(b) || a.localeCompare(b))[0];
  }

  /** The outdated instance in the zone with the most instances (keeps the spread), oldest first. */
  private pickOutdated(outdated: GroupMember[], live: GroupMember[]): GroupMember {
    const count = (z: string) => live.filter((m) => m.zone === z).length;
    return [...outdated].sort(
      (a, b) => count(b.zone) - count(a.zone) || a.launchTime - b.launchTime || a.id.localeCompare(b.id),
    )[0] as GroupMember;
  }

  private checkpoint(r: SimRefresh): void {
    const pct = r.total === 0 ? 100 : Math.round((100 * r.replaced) / r.total);
    if (r.preferences.checkpointPercentages?.some((p) => p <= pct)) {
      this.stats.checkpoints++;
      this.cloud.bus.emit({
        source: 'aws.autoscaling',
        detailType: 'EC2 Auto Scaling Instance Refresh Checkpoint Reached',
        instanceId: '',
      });
    }
  }

  groupView(): GroupView {
    const d = this.group.describe();
    return {
      name: d.name,
      desired: this.active()?.originalDesired ?? d.desired,
      targetVersion: this.launchTemplateVersion,
      instances: d.instances.map((i) => ({
        instanceId: i.instanceId,
        zone: i.zone,
        lifecycleState: i.lifecycleState,
        health: i.health,
        version: this.versions.get(i.instanceId) ?? '',
      })),
    };
  }

  /** The upgrade's port over this group alone. */
  port(): UpgradePort {
    return simUpgradePort(this.cloud, [this]);
  }
}

/** The upgrade's port over the simulated cloud and its refreshable groups; every call takes a little virtual time. */
export function simUpgradePort(cloud: SimCloud, refreshes: readonly SimInstanceRefresh[]): UpgradePort {
  const k = cloud.k;
  const call = async <T>(fn: () => T): Promise<T> => {
    await k.sleep(20);
    return fn();
  };
  const of = (name: string) => refreshes.find((r) => r.group.name === name);
  const mine = (name: string): SimInstanceRefresh => {
    const r = of(name);
    if (!r)
      throw new SimAwsError(
        'ValidationError',
        `AutoScalingGroup name not found - ${name}`,
        400,
        k.rng.hex(8),
      );
    return r;
  };
  return {
    describeGroup: (name) => call(() => of(name)?.groupView()),
    describeRefreshes: (name) => call(() => of(name)?.describe() ?? []),
    startRefresh: (name, version, prefs) => call(() => mine(name).start(version, prefs)),
    cancelRefresh: (name) => call(() => mine(name).cancel()),
    rollbackRefresh: (name) => call(() => mine(name).rollback()),
    readStatus: (cluster) =>
      call(() => {
        const text = cloud.ssm.get(statusParameter(cluster));
        return text === undefined ? undefined : parseStatus(text);
      }),
    readRecord: (cluster) =>
      call(() => {
        const text = cloud.ssm.get(upgradeParameter(cluster));
        return text === undefined ? {} : (JSON.parse(text) as UpgradeRecord);
      }),
    writeRecord: (cluster, record) =>
      call(() => cloud.ssm.put(upgradeParameter(cluster), JSON.stringify(record))),
    runningKubernetesVersion: (_cluster, masterGroup) => call(() => of(masterGroup)?.kubernetesVersionTag),
    now: () => k.now(),
    sleep: (ms) => k.sleep(ms),
  };
}
