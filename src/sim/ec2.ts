/**
 * EC2 instances: an id, a zone, a private IP in its zone's subnet, a boot delay, and a state. A
 * killed instance is terminated at once; an instance in a failed zone is impaired (it does not answer).
 *
 * Private IPv4 addresses, as the VPC gives them:
 *  - each zone's subnet is the private subnet the provisioner declares for it (`zoneSubnetCidrs` of
 *    the spec's network.cidr: the master and worker groups launch there); AWS reserves the first four
 *    and the last address of every subnet (CreateSubnet, EC2 API Reference: "Amazon Web Services
 *    reserves both the first four and the last IPv4 address in each subnet's CIDR block"), so those
 *    are never given; a subnet with no free address refuses the launch;
 *  - a stopped instance keeps its address, a terminated one releases it (EC2 User Guide, differences
 *    between reboot, stop and terminate: stop/start keeps the private IPv4 address), and a later
 *    instance of the subnet may get it again;
 *  - which free address a launch gets is not documented (CreateNetworkInterface: "Amazon EC2 selects
 *    one for you from the subnet's IPv4 CIDR range"). ASSUMPTION (ours): with probability
 *    REUSE_CHANCE a launch gets one of the REUSE_RECENT addresses released last in its subnet,
 *    otherwise a free address of the subnet drawn uniformly. A /20 would almost never hand an address
 *    back by chance; the preference stands for a small or busy subnet, so that reuse happens in
 *    seeded runs (a reconciler that ties etcd members to instances by peer URL must survive it).
 *    The draws have their own random stream: the same seed gives the same addresses.
 */
import { hasHostBits, ipv4ToNumber, numberToIpv4, parseCidr } from '../cluster-spec/cidr.js';
import { zoneSubnetCidrs } from '../provision/network.js';
import type { Kernel } from './kernel.js';
import type { Random } from './random.js';
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

/** The chance a launch gets a recently released address of its subnet (our assumption, above). */
export const REUSE_CHANCE = 0.5;
/** How many of a subnet's last released addresses that preference picks from. */
export const REUSE_RECENT = 3;
/** The VPC of the default simulated spec (sim-spec.ts): its subnets stand in when none are given. */
const DEFAULT_VPC_CIDR = '10.0.0.0/16';

/**
 * The subnet each zone's nodes launch into (zone -> CIDR): the private subnet the provisioner
 * declares for the spec's network.cidr (`zoneSubnetCidrs`, as desiredCluster does). A spec that names
 * an existing VPC declares no CIDR; its subnets stand in as those of the default spec's 10.0.0.0/16.
 * Without a network: those of the default spec for `zones`.
 */
export function nodeSubnets(
  network: { cidr?: string | undefined; zones: readonly string[] } | undefined,
  zones: readonly string[],
): Map<string, string> {
  const declared = zoneSubnetCidrs(network?.cidr ?? DEFAULT_VPC_CIDR, network?.zones ?? zones);
  for (const z of zones)
    if (!declared.has(z)) throw new Error(`simulated zone ${z} is not one of the spec's network.zones`);
  return new Map([...declared].map(([z, c]) => [z, c.private]));
}

/** One zone's subnet: its usable range, the addresses in use, those released (oldest first). */
export class Subnet {
  /** The first and last address an instance may get (AWS reserves the first four and the last). */
  readonly first: number;
  readonly last: number;
  private readonly used = new Set<number>();
  private released: number[] = [];

  constructor(readonly cidr: string) {
    const c = parseCidr(cidr);
    // CreateSubnet refuses a block whose address has host bits set ("must be valid Ipv4 CIDR").
    if (!c || hasHostBits(cidr)) throw new Error(`subnet ${cidr}: not a valid IPv4 CIDR block`);
    // CreateSubnet: "The allowed size for an IPv4 subnet is between a /28 netmask and a /16 netmask".
    if (c.prefix < 16 || c.prefix > 28) throw new Error(`subnet ${cidr}: an IPv4 subnet is a /16 to /28`);
    this.first = c.start + 4;
    this.last = c.end - 2;
  }

  /** How many addresses an instance could still get. */
  get free(): number {
    return this.last - this.first + 1 - this.used.size;
  }

  holds(ip: string): boolean {
    const a = ipv4ToNumber(ip);
    return a >= this.first && a <= this.last;
  }

  /**
   * An address for a new instance (undefined: the subnet is full). `busy`: a released address that
   * may not be given yet (the sandbox's process of the instance that had it still runs).
   */
  take(rng: Random, busy: (ip: string) => boolean): { ip: string; reused: boolean } | undefined {
    const ok = (a: number) => !this.used.has(a) && !busy(numberToIpv4(a));
    const recent = this.released.slice(-REUSE_RECENT).filter(ok);
    let pick: number | undefined;
    let reused = false;
    if (recent.length > 0 && rng.chance(REUSE_CHANCE)) {
      pick = rng.pick(recent);
      reused = true;
    } else {
      // Uniform over the free addresses: a draw, and if it is taken the first free one after it.
      const span = this.last - this.first + 1;
      const start = Math.floor(rng.next() * span);
      for (let i = 0; i < span && pick === undefined; i++) {
        const a = this.first + ((start + i) % span);
        if (ok(a)) pick = a;
      }
      reused = pick !== undefined && this.released.includes(pick);
    }
    if (pick === undefined) return undefined;
    this.used.add(pick);
    this.released = this.released.filter((a) => a !== pick);
    return { ip: numberToIpv4(pick), reused };
  }

  /** A terminated instance's address is free again (kept among the recent ones). */
  release(ip: string): void {
    const a = ipv4ToNumber(ip);
    if (!this.used.delete(a)) return;
    this.released.push(a);
    if (this.released.length > 64) this.released.shift();
  }
}

export class Ec2 {
  readonly instances = new Map<string, SimInstance>();
  /** Who has each address now (a released address keeps its last instance until it is given again). */
  private readonly byIp = new Map<string, SimInstance>();
  /** Each zone's subnet. */
  readonly subnets = new Map<string, Subnet>();
  private readonly addressRng: Random;
  readonly stats = { launched: 0, reused: 0 };
  /** Called when an instance reaches `running` (the node starts its user data) or `terminated`. */
  onRunning: (i: SimInstance) => void = () => {};
  onTerminated: (i: SimInstance) => void = () => {};
  /**
   * A released address that may not be given again yet: the sandbox says so while the real process
   * of the instance that had it still runs (no two hosts have one address). Default: none.
   */
  addressBusy: (ip: string) => boolean = () => false;

  /**
   * `subnets`: zone -> the CIDR of its private subnet, as the provisioner declares it (default: those
   * of the default simulated spec's VPC, 10.0.0.0/16, for `zones`' names).
   */
  constructor(
    private readonly k: Kernel,
    private readonly zones: Zones,
    private readonly bootDelayMs: [number, number] = [10_000, 40_000],
    subnets: ReadonlyMap<string, string> = nodeSubnets(undefined, zones.names),
  ) {
    for (const z of zones.names) {
      const cidr = subnets.get(z);
      if (!cidr) throw new Error(`EC2: no subnet declared for zone ${z}`);
      this.subnets.set(z, new Subnet(cidr));
    }
    this.addressRng = k.rng.fork('ec2-private-ips');
  }

  launch(zone: string, groupName: string): SimInstance {
    const subnet = this.subnets.get(zone);
    if (!subnet) throw new Error(`InvalidParameterValue: no subnet in zone ${zone}`);
    const got = subnet.take(this.addressRng, (a) => this.addressBusy(a));
    if (!got)
      throw new Error(
        `InsufficientFreeAddressesInSubnet: subnet ${subnet.cidr} (${zone}) has no free private IPv4 address`,
      );
    this.stats.launched++;
    if (got.reused) this.stats.reused++;
    const ip = got.ip;
    const inst: SimInstance = {
      id: `i-${this.k.rng.hex(17)}`,
      zone,
      ip,
      launchTime: this.k.now(),
      state: 'pending',
      groupName,
    };
    this.instances.set(inst.id, inst);
    const before = this.byIp.get(ip);
    if (before) this.k.log('ec2', `${inst.id} in ${zone} gets ${ip}, the address of terminated ${before.id}`);
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
    // The network interface goes with the instance: its address is free for a later launch.
    this.subnets.get(inst.zone)?.release(inst.ip);
  }

  get(id: string): SimInstance | undefined {
    return this.instances.get(id);
  }

  /**
   * DescribeInstances' PrivateIpAddress: the address while the instance is pending, running,
   * stopping or stopped; none once it is terminated (EC2 User Guide, differences between reboot,
   * stop, hibernate and terminate: a terminated instance's private IPv4 address is "None", its
   * network interface deleted with it), though DescribeInstances still lists it for a while. `ip`
   * keeps the address it had, for the simulator's own bookkeeping (byAddress, the invariants).
   * The simulator has no shutting-down state (a termination is immediate).
   */
  privateIpAddress(id: string): string | undefined {
    const inst = this.instances.get(id);
    return inst && inst.state !== 'terminated' ? inst.ip : undefined;
  }

  /** The instance that has `ip` now, or had it last when no instance has it since. */
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
