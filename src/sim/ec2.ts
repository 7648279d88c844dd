/**
 * EC2 instances: an id, a zone, a private IP (10.<zone>.x.y), a boot delay, and a state. A killed
 * instance is terminated at once; an instance in a failed zone is impaired (it does not answer).
 */
import type { Kernel } from './kernel.js';
import type { Zones } from './zones.js';

export type Ec2State = 'pending' | 'running' | 'stopping' | 'stopped' | 'terminated';

export interface SimInstance {
  id: string;
  zone: string;
  ip: string;
  launchTime: number;
  state: Ec2State;
  groupName: string;
}

export class Ec2 {
  readonly instances = new Map<string, SimInstance>();
  private readonly byIp = new Map<string, SimInstance>();
  private readonly ipCounter = new Map<string, number>();
  /** Called when an instance reaches `running` (the node starts its user data) or `terminated`. */
  onRunning: (i: SimInstance) => void = () => {};
  onTerminated: (i: SimInstance) => void = () => {};

  constructor(
    private readonly k: Kernel,
    private readonly zones: Zones,
    private readonly bootDelayMs: [number, number] = [10_000, 40_000],
  ) {}

  launch(zone: string, groupName: string): SimInstance {
    const zi = this.zones.names.indexOf(zone);
    const n = this.ipCounter.get(zone) ?? 0;
    this.ipCounter.set(zone, n + 1);
    const ip = `10.${zi + 1}.${Math.floor(n / 250)}.${(n % 250) + 4}`;
    const inst: SimInstance = {
      id: `i-${this.k.rng.hex(17)}`,
      zone,
      ip,
      launchTime: this.k.now(),
      state: 'pending',
      groupName,
    };
    this.instances.set(inst.id, inst);
    this.byIp.set(ip, inst);
    this.k.after(this.k.rng.int(this.bootDelayMs[0], this.bootDelayMs[1]), () => {
      if (inst.state !== 'pending') return;
      inst.state = 'running';
      this.onRunning(inst);
    });
    return inst;
  }

  /**
   * StopInstances (a warm pool's Stopped state): `stopping` for `stopMs` (EC2_STOP_MS) while the OS
   * shuts down, then `stopped`; the instance keeps its id, zone, private IP and root volume. Refused
   * unless it runs (EC2's IncorrectInstanceState).
   */
  stop(id: string, stopMs: readonly [number, number]): void {
    const inst = this.instances.get(id);
    if (!inst || inst.state !== 'running') throw new Error(`IncorrectInstanceState: ${id} is not running`);
    inst.state = 'stopping';
    this.k.after(this.k.rng.int(stopMs[0], stopMs[1]), () => {
      if (inst.state === 'stopping') inst.state = 'stopped';
    });
  }

  /**
   * StartInstances of a stopped instance: pending for `startMs` (EC2_START_FROM_STOPPED_MS), then
   * running (the node boots again). Refused unless stopped, and in a zone that is down (nothing
   * there can start).
   */
  start(id: string, startMs: readonly [number, number]): boolean {
    const inst = this.instances.get(id);
    if (!inst || inst.state !== 'stopped' || !this.zones.isUp(inst.zone)) return false;
    inst.state = 'pending';
    inst.launchTime = this.k.now();
    this.k.after(this.k.rng.int(startMs[0], startMs[1]), () => {
      if (inst.state !== 'pending') return;
      inst.state = 'running';
      this.onRunning(inst);
    });
    return true;
  }

  terminate(id: string): void {
    const inst = this.instances.get(id);
    if (!inst || inst.state === 'terminated') return;
    inst.state = 'terminated';
    this.onTerminated(inst);
  }

  get(id: string): SimInstance | undefined {
    return this.instances.get(id);
  }

  byAddress(ip: string): SimInstance | undefined {
    return this.byIp.get(ip);
  }

  /** Running and in a zone that is up. */
  alive(inst: SimInstance | undefined): inst is SimInstance {
    return !!inst && inst.state === 'running' && this.zones.isUp(inst.zone);
  }

  /** EC2 status checks fail: terminated, or its zone has been down for `graceMs`. */
  impaired(inst: SimInstance, graceMs: number): boolean {
    if (inst.state === 'terminated') return true;
    const since = this.zones.downSince(inst.zone);
    return since !== undefined && this.k.now() - since >= graceMs;
  }

  /** Can two instances talk (both alive, zones connected)? */
  reach(a: string, b: string): boolean {
    const ia = this.byIp.get(a);
    const ib = this.byIp.get(b);
    return this.alive(ia) && this.alive(ib) && this.zones.connected(ia.zone, ib.zone);
  }

  /** Can the reconciler reach this address? */
  reconcilerReach(ip: string): boolean {
    const i = this.byIp.get(ip);
    return this.alive(i) && this.zones.reachableFromReconciler(i.zone);
  }
}
