/**
 * The simulated cloud: zones, EC2, one master Auto Scaling group, the API target group, SSM,
 * EventBridge, the etcd model and the nodes, wired together on one kernel. `ports()` gives the
 * healing core the same interfaces the AWS and etcd adapters give it in the Lambda; every call
 * takes a little virtual time and may be throttled or fail with a 5xx while that fault is active.
 */

import { resourceNames } from '../contract/names.js';
import {
  API_SERVER_PORT,
  clusterRoleName,
  configParameter,
  ETCD_CLIENT_PORT,
  ETCD_PEER_PORT,
  hostOfURL,
} from '../contract/protocol.js';
import { RECONCILER_PACKAGE } from '../contract/reconciler-package.js';
import { requestingBackupPort, requestSnapshot, type SnapshotStorePort } from '../heal/backups.js';
import type { ReconcilerConfig } from '../heal/config.js';
import type { SnapshotRequestDetail } from '../heal/events.js';
import {
  EtcdError,
  type HealPorts,
  isNoActiveLifecycleAction,
  type ParameterPort,
  type WorkerHookPort,
} from '../heal/ports.js';
import { ApiFaults, SimAwsError } from './api-errors.js';
import { AutoScalingGroup, type DeclaredHook, declaredHookOptions } from './auto-scaling.js';
import { Ec2, nodeSubnets } from './ec2.js';
import { TargetGroup } from './elb.js';
import { EtcdModel } from './etcd-model.js';
import { type Placement, RealEtcd, type RealEtcdOptions } from './etcd-real.js';
import { EventBus } from './eventbridge.js';
import { Kernel } from './kernel.js';
import type { NetworkModel, Party, Protocol } from './network.js';
import { modelNodeEtcd, Nodes, realNodeEtcd } from './node.js';
import { simNetwork } from './sim-spec.js';
import { ParameterStore, sessionArn } from './ssm.js';
import { Zones } from './zones.js';

export interface CloudOptions {
  seed: number;
  cluster?: string;
  region?: string;
  zones: string[];
  masters: number;
  /** Lifecycle hook heartbeat timeout (default 600 s, the spec's default); not with `masterHooks`. */
  hookHeartbeatMs?: number;
  /**
   * The master group's lifecycle hooks as the provisioner declares them (the desired `asg/masters`'
   * hooks), refused where PutLifecycleHook refuses them. Default: both hooks with `hookHeartbeatMs`,
   * launching ABANDON, terminating CONTINUE (provision/master-group.ts).
   */
  masterHooks?: readonly DeclaredHook[];
  /** Register InService instances in the API target group from the group itself (default: the reconciler does). */
  attachTargetGroup?: boolean;
  memberUnhealthyMs?: number;
  /**
   * The security groups every simulated connection is checked against: the provisioner's desired
   * resources for the spec the cloud runs (default: those of `simSpec` for these zones and masters).
   */
  network?: NetworkModel;
  /**
   * Masters run REAL etcd processes (etcd-real.ts) instead of the model: the reconciler's etcd port
   * talks to them. The kernel must then run in real time (`Kernel.runRealtime`).
   */
  realEtcd?: Omit<RealEtcdOptions, 'placement' | 'log' | 'clientPort' | 'peerPort'> & {
    /** etcd's client and peer ports (default 2379/2380; see pickEtcdPorts). */
    ports?: { client: number; peer: number };
  };
  /** The etcd snapshot bucket in the reconciler's configuration (backups on; default: none). */
  backupBucket?: string;
  /** The master group's warm pool (spec masters.warmPool; size 0 or undefined: none). */
  warmPool?: { size: number; state: 'Stopped' | 'Running' };
}

/**
 * Faults the cloud is under right now that are not zones or instances: what the fault generator
 * sets (faults.ts) and the invariants read to tell the faults' damage from the reconciler's.
 */
export interface CloudFaults {
  /** Instances a fault terminated (EC2 died under them), not the group. */
  killed: Set<string>;
  /** Private IPs of masters cut off from their peers (2380) while the reconciler still reaches them. */
  peerCut: Set<string>;
  /** The reconciler cannot reach etcd (2379) until then (its connections time out). */
  etcdCutUntil: number;
  /** Snapshots fail (S3/KMS denied) or are slow until `until`. */
  backup: { until: number; fail?: string; slowMs?: number } | undefined;
}

/** A reconciler invocation's private state: the simulated Lambda can die between two calls. */
export interface Invocation {
  /** Mutating calls allowed before the process dies (undefined: it does not). */
  crashAfter: number | undefined;
  mutations: number;
  dead: boolean;
  onCrash: (before: string) => void;
}

const MUTATING = new Set([
  'completeLifecycleAction',
  'recordLifecycleHeartbeat',
  'setInstanceUnhealthy',
  'registerTarget',
  'deregisterTarget',
  'put',
  'delete',
  'addLearner',
  'promoteMember',
  'removeMember',
  'moveLeader',
  'snapshot',
]);

/** The reconciler's etcd client deadline (src/lambdas/reconciler.ts) and /readyz probe timeout. */
const ETCD_TIMEOUT_MS = 3_000;
const PROBE_TIMEOUT_MS = 2_000;

export class SimCloud {
  readonly k: Kernel;
  readonly zones: Zones;
  readonly ec2: Ec2;
  readonly ssm = new ParameterStore();
  readonly bus: EventBus;
  readonly apiFaults: ApiFaults;
  readonly etcd: EtcdModel;
  /** The real etcd back end, when the cloud runs one (otherwise the model answers). */
  readonly real: RealEtcd | undefined;
  readonly nodes: Nodes;
  readonly apiTargets: TargetGroup;
  readonly group: AutoScalingGroup;
  /** The worker group, when the world has one (worker-node.ts attaches it): the reconciler's ports reach it. */
  workers: AutoScalingGroup | undefined;
  readonly config: ReconcilerConfig;
  readonly stats = { calls: 0, failedCalls: 0 };
  readonly faults: CloudFaults = {
    killed: new Set(),
    peerCut: new Set(),
    etcdCutUntil: 0,
    backup: undefined,
  };
  readonly network: NetworkModel;
  /** Blocked connections already in the timeline (each is logged once). */
  private readonly blockedLogged = new Set<string>();
  /** The connections the simulator makes on hot paths, decided once. */
  private readonly links: {
    reconcilerEtcd: string | undefined;
    reconcilerApi: string | undefined;
    etcdPeer: string | undefined;
    masterApi: string | undefined;
    apiHealth: string | undefined;
  };

  constructor(readonly opts: CloudOptions) {
    const cluster = opts.cluster ?? 'sim';
    const region = opts.region ?? 'eu-west-1';
    const names = resourceNames(cluster);
    this.network = opts.network ?? simNetwork({ cluster, region, zones: opts.zones, masters: opts.masters });
    const net = this.network;
    this.links = {
      reconcilerEtcd: net.blocked('reconciler', 'masters', 'tcp', ETCD_CLIENT_PORT),
      reconcilerApi: net.blocked('reconciler', 'masters', 'tcp', API_SERVER_PORT),
      etcdPeer: net.blocked('masters', 'masters', 'tcp', ETCD_PEER_PORT),
      masterApi: net.blocked('masters', 'masters', 'tcp', API_SERVER_PORT),
      apiHealth: net.healthCheck('tg/api'),
    };
    this.k = new Kernel(opts.seed);
    this.zones = new Zones(opts.zones);
    this.ec2 = new Ec2(this.k, this.zones, undefined, nodeSubnets(net.spec.network, opts.zones));
    this.bus = new EventBus(this.k);
    this.apiFaults = new ApiFaults(this.k.rng.fork('api-faults'));
    this.etcd = new EtcdModel(this.k, {
      // Members talk to each other on the peer port: the masters' group must let it through.
      reach: (a, b) =>
        this.ec2.reach(a, b) &&
        this.passes(this.links.etcdPeer) &&
        (this.faults.peerCut.size === 0 || (!this.faults.peerCut.has(a) && !this.faults.peerCut.has(b))),
      reconcilerReach: (ip) => this.ec2.reconcilerReach(ip),
      hostAlive: (ip) => this.ec2.alive(this.ec2.byAddress(ip)),
    });
    this.real = opts.realEtcd
      ? new RealEtcd({
          ...opts.realEtcd,
          clientPort: opts.realEtcd.ports?.client ?? 2379,
          peerPort: opts.realEtcd.ports?.peer ?? 2380,
          placement: (ip) => this.placement(ip),
          log: (text) => this.k.log('etcd', text),
        })
      : undefined;
    // No two hosts with one address: a terminated instance's address waits for its process to exit.
    if (this.real) {
      const real = this.real;
      this.ec2.addressBusy = (ip) => real.addressHeld(ip);
    }
    const nodeEtcd = this.real ? realNodeEtcd(this.real) : modelNodeEtcd(this.etcd);
    this.nodes = new Nodes(this.k, this.ec2, this.ssm, this.bus, nodeEtcd, cluster);
    this.etcd.onRemoved = (m) => this.nodes.memberRemoved(m.ip);
    // A joining master finds another master's API server on its own address (master.sh).
    this.nodes.joinApiReachable = () => this.passes(this.links.masterApi);
    // The node watchdog's `aws autoscaling set-instance-health --health-status Unhealthy`.
    this.nodes.reportUnhealthy = (id) => this.group.setUnhealthy(id, 'the node watchdog');
    const tgArn = `arn:aws:elasticloadbalancing:${region}:123456789012:targetgroup/${names.apiTargetGroup}/${this.k.rng.hex(16)}`;
    this.apiTargets = new TargetGroup(
      this.k,
      tgArn,
      // The load balancer's health checks reach /readyz only if the masters' group admits them.
      (id) => this.passes(this.links.apiHealth) && this.nodes.apiReady(id),
      (id) => this.ec2.get(id)?.state !== 'running',
    );
    if (opts.masterHooks && opts.hookHeartbeatMs !== undefined)
      throw new Error(
        'SimCloud: give the master group hookHeartbeatMs or its declared masterHooks, not both',
      );
    const hooks = opts.masterHooks
      ? declaredHookOptions(names.masterGroup, opts.masterHooks)
      : {
          hookHeartbeatMs: opts.hookHeartbeatMs ?? 600_000,
          launchDefaultResult: 'ABANDON' as const,
          terminateDefaultResult: 'CONTINUE' as const,
        };
    const hb = hooks.hookHeartbeatMs ?? 600_000;
    this.config = {
      cluster,
      region,
      zones: [...opts.zones],
      expectedMasters: opts.masters,
      masterGroupName: names.masterGroup,
      workerGroupName: names.workerGroup,
      apiTargetGroupArn: tgArn,
      serviceTargetGroupArns: [],
      etcdScheme: 'https',
      etcdClientPort: opts.realEtcd?.ports?.client ?? 2379,
      etcdPeerPort: opts.realEtcd?.ports?.peer ?? 2380,
      memberUnhealthyMs: opts.memberUnhealthyMs ?? 120_000,
      bootTimeoutMs: Math.max(hb, 900_000),
      learnerMaxLag: 100,
      // As reconcilerConfigFromSpec: whether the master group has a warm pool (its size above 0).
      masterWarmPool: (opts.warmPool?.size ?? 0) > 0,
      ...(opts.backupBucket ? { backupBucket: opts.backupBucket } : {}),
    };
    this.ssm.put(configParameter(cluster), JSON.stringify(this.config));
    // Only masters run the bootstrap's etcd phase (a worker group, if any, just runs instances).
    this.ec2.onRunning = (i) => {
      if (i.groupName === names.masterGroup) this.nodes.boot(i);
    };
    this.ec2.onTerminated = (i) => {
      // Its etcd process dies with the instance: the model's member must not come back to life
      // when a later instance gets the same address (the real back end kills the process itself).
      if (!this.real) this.etcd.crash(i.ip);
      this.nodes.gone(i);
    };
    this.group = new AutoScalingGroup(this.k, this.ec2, this.zones, this.bus, {
      name: names.masterGroup,
      desired: opts.masters,
      min: opts.masters,
      max: opts.masters,
      ...hooks,
      targetGroups: opts.attachTargetGroup ? [this.apiTargets] : [],
      impairedGraceMs: 60_000,
      tickMs: 10_000,
      // As provision/warm-pool.ts puts it: MaxGroupPreparedCapacity = MinSize, an absolute size.
      ...(opts.warmPool && opts.warmPool.size > 0
        ? { warmPool: { ...opts.warmPool, maxGroupPreparedCapacity: opts.warmPool.size } }
        : {}),
    });
    this.nodes.targetLifecycleState = (id) => this.group.targetLifecycleState(id);
    // The node's `aws autoscaling complete-lifecycle-action` (its own warm-up hook; master role OwnLifecycle).
    this.nodes.completeWarmUp = (id) => {
      try {
        this.group.completeLifecycleAction(id, 'launching', 'CONTINUE');
      } catch (e) {
        this.k.log('node', `${id}: no warm-up lifecycle action to complete (${(e as Error).message})`);
      }
    };
  }

  /** True when `blocked` is undefined; otherwise logs the reason (once) and returns false. */
  passes(blocked: string | undefined): boolean {
    if (blocked === undefined) return true;
    if (!this.blockedLogged.has(blocked)) {
      this.blockedLogged.add(blocked);
      this.k.log('network', blocked);
    }
    return false;
  }

  /** May `from` open a connection to `to`? (Checked against the security groups; logged once if not.) */
  connects(from: Party, to: Party, protocol: Protocol, port: number): boolean {
    return this.passes(this.network.blocked(from, to, protocol, port));
  }

  /** The cluster's connections the simulator has no process for (workers, services): the first blocked. */
  dataPlaneBlocked(): string | undefined {
    const blocked = this.network.dataPlaneBlocked();
    for (const b of blocked) this.passes(b);
    return blocked[0];
  }

  /** Anything changed the network or a process: etcd re-evaluates its leader and links. */
  networkChanged(): void {
    this.etcd.refresh();
    this.real?.applyPlacement();
  }

  /** Where an instance is, for the real etcd back end's processes. */
  placement(ip: string): Placement {
    const inst = this.ec2.byAddress(ip);
    if (!inst || inst.state === 'terminated') return 'gone';
    if (!this.zones.isUp(inst.zone)) return 'down';
    if (this.zones.isPartitioned(inst.zone)) return 'frozen';
    return 'up';
  }

  /**
   * One call of an invocation: a little virtual time, then the call, unless the invocation died
   * (its calls never return), crashes before this mutation, or AWS throttles it (that fault).
   */
  private async invocationCall<T>(
    inv: Invocation,
    service: string,
    op: string,
    fn: () => T | Promise<T>,
  ): Promise<T> {
    const k = this.k;
    await k.sleep(k.rng.int(5, 60));
    if (inv.dead) return new Promise<T>(() => {});
    if (MUTATING.has(op) && inv.crashAfter !== undefined && inv.mutations++ >= inv.crashAfter) {
      inv.dead = true;
      inv.onCrash(`${service}.${op}`);
      return new Promise<T>(() => {});
    }
    this.stats.calls++;
    const aws = service !== 'etcd' && service !== 'probe';
    for (let attempt = 1; ; attempt++) {
      try {
        if (aws) this.apiFaults.check(k.now(), service, op);
        return await fn();
      } catch (e) {
        // The SDK's standard retry: throttling and 5xx again after a jittered exponential backoff
        // (base 500 ms for throttling, 100 ms otherwise), up to the function's attempts per call.
        const throttled = e instanceof SimAwsError && e.name === 'ThrottlingException';
        const retryable = e instanceof SimAwsError && (throttled || e.$fault === 'server');
        if (aws && retryable && attempt < RECONCILER_PACKAGE.awsMaxAttempts) {
          await k.sleep(k.rng.int(0, (throttled ? 500 : 100) * 2 ** attempt));
          if (inv.dead) return new Promise<T>(() => {});
          continue;
        }
        this.stats.failedCalls++;
        throw e;
      }
    }
  }

  /** The reconciler cannot open a connection to etcd's client port now (security groups or that fault). */
  private etcdCut(): boolean {
    return !this.passes(this.links.reconcilerEtcd) || this.k.now() < this.faults.etcdCutUntil;
  }

  /**
   * The snapshot store a snapshot invocation streams to (S3 in AWS, snapshot.ts): etcd's snapshot
   * stream from a serving member, uploaded under the backup faults (a large database streams for
   * `slowMs`; a disabled KMS key or denied bucket fails the upload). A stream takes a few seconds.
   */
  snapshotStore(inv: Invocation): SnapshotStorePort {
    const k = this.k;
    const etcd = this.real?.port ?? this.etcd.port;
    return {
      take: (from) =>
        this.invocationCall(inv, 's3', 'snapshot', async () => {
          const ip = hostOfURL(from);
          if (this.etcdCut()) {
            await k.sleep(ETCD_TIMEOUT_MS);
            throw new Error(`snapshot: dial tcp ${ip}:${ETCD_CLIENT_PORT}: i/o timeout`);
          }
          if (!this.ec2.reconcilerReach(ip))
            throw new Error(`snapshot: dial tcp ${ip}:${ETCD_CLIENT_PORT}: i/o timeout`);
          // The stream opens on a serving member (one that answers its status); a stopped etcd refuses it.
          const status = await (this.real ? k.realIo(() => etcd.status(from)) : etcd.status(from));
          await k.sleep(k.rng.int(1_000, 5_000));
          const b = this.faults.backup;
          if (b && k.now() < b.until) {
            if (b.slowMs) await k.sleep(b.slowMs);
            if (b.fail) throw new SimAwsError('AccessDeniedException', b.fail, 400, k.rng.hex(8));
          }
          return {
            key: `${this.config.cluster}/${new Date(k.now()).toISOString()}-rev${status.raftIndex}.db`,
            bytes: 2_097_152,
            revision: status.raftIndex,
            pruned: [],
          };
        }),
    };
  }

  /**
   * What settling the worker group's hooks needs (heal/worker-hooks.ts), over the pass's own ports:
   * EC2's DescribeInstances for an instance's state (a terminated one stays visible, as in EC2), and
   * a target group's deregistration delay. The simulator has no service target groups (the
   * reconciler's serviceTargetGroupArns is empty): any ARN but the API target group's is not found.
   */
  workerHookPort(inv: Invocation, ports: HealPorts): WorkerHookPort {
    const call = <T>(service: string, op: string, fn: () => T): Promise<T> =>
      this.invocationCall(inv, service, op, fn);
    // As the Lambda's fleet adapter (adapters/aws/heal-ports.ts): an action already completed (the
    // node completed its own hook first) or timed out is no error.
    const already = (e: unknown) => {
      if (!isNoActiveLifecycleAction(e)) throw e;
    };
    return {
      fleet: {
        describeGroup: ports.fleet.describeGroup,
        completeLifecycleAction: (name, id, hook, result) =>
          ports.fleet.completeLifecycleAction(name, id, hook, result).catch(already),
        recordLifecycleHeartbeat: (name, id, hook) =>
          ports.fleet.recordLifecycleHeartbeat(name, id, hook).catch(already),
      },
      loadBalancer: {
        describeTargets: ports.loadBalancer.describeTargets,
        deregisterTarget: ports.loadBalancer.deregisterTarget,
        deregistrationDelaySeconds: (arn) =>
          call('elbv2', 'describeTargetGroupAttributes', () => {
            if (arn !== this.apiTargets.arn) {
              throw new SimAwsError(
                'TargetGroupNotFoundException',
                `Target groups '${arn}' not found`,
                400,
                this.k.rng.hex(8),
              );
            }
            return this.apiTargets.deregistrationDelayMs / 1000;
          }),
      },
      parameters: ports.parameters,
      instanceStates: (ids) =>
        call('ec2', 'describeInstances', () => {
          const states: Record<string, string> = {};
          for (const id of ids) {
            const state = this.ec2.get(id)?.state;
            if (state) states[id] = state;
          }
          return states;
        }),
      clock: ports.clock,
    };
  }

  /** The Lambda Invoke API (InvocationType Event) as an invocation calls it: `start` queues the event. */
  invoke(inv: Invocation, start: (detail: SnapshotRequestDetail) => void) {
    return (detail: SnapshotRequestDetail): Promise<void> =>
      this.invocationCall(inv, 'lambda', 'invoke', () => start(detail));
  }

  /**
   * The ports one reconciler invocation sees. `startSnapshot` is the Lambda Invoke API: it queues a
   * snapshot invocation of the function (asynchronously); with it the backup port only requests a
   * snapshot, as the Lambda's does (reconciler-handler.ts), and never streams one inside the pass.
   */
  ports(inv: Invocation, startSnapshot?: (detail: SnapshotRequestDetail) => void): HealPorts {
    const k = this.k;
    const rng = k.rng;
    const call = <T>(service: string, op: string, fn: () => T | Promise<T>): Promise<T> =>
      this.invocationCall(inv, service, op, fn);
    const group = (name: string) => {
      if (name === this.group.name) return this.group;
      if (name === this.workers?.name) return this.workers;
      return undefined;
    };
    const noGroup = (name: string): never => {
      throw new SimAwsError('ValidationError', `AutoScalingGroup name not found - ${name}`, 400, rng.hex(8));
    };
    const tg = (arn: string) => {
      if (arn !== this.apiTargets.arn) {
        throw new SimAwsError(
          'TargetGroupNotFoundException',
          `Target groups '${arn}' not found`,
          400,
          rng.hex(8),
        );
      }
      return this.apiTargets;
    };
    const mutation = (text: string) => k.log('reconciler', text);
    const etcd = this.real?.port ?? this.etcd.port;
    // A connection the security groups drop is not refused: the client waits for its deadline.
    // A real etcd process's answer takes the real time it takes (Kernel.realIo), not `speed` times that.
    const etcdCall = <T>(op: string, describe: string | undefined, ep: string, fn: () => Promise<T>) =>
      call('etcd', op, async () => {
        if (this.etcdCut()) {
          await k.sleep(ETCD_TIMEOUT_MS);
          throw new EtcdError('timeout', `dial tcp ${hostOfURL(ep)}:${ETCD_CLIENT_PORT}: i/o timeout`, 4);
        }
        return this.real ? k.realIo(fn) : fn();
      }).then(
        (v) => {
          if (describe) mutation(`${describe}: ok`);
          return v;
        },
        (e: unknown) => {
          if (describe) mutation(`${describe}: ${(e as Error).message}`);
          throw e;
        },
      );
    const parameters: ParameterPort = {
      get: (name) => call('ssm', 'get', () => this.ssm.get(name)),
      getByPath: (path) => call('ssm', 'getByPath', () => this.ssm.getByPath(path)),
      writers: (path) => call('ssm', 'describeParameters', () => this.ssm.writers(path)),
      put: (name, value, options) =>
        call('ssm', 'put', () => {
          // The reconciler writes as its own role's session (the function's).
          const reconciler = clusterRoleName(this.config.cluster, 'reconciler');
          this.ssm.put(
            name,
            value,
            options?.secure ?? false,
            sessionArn(reconciler, `${this.config.cluster}-reconciler`),
          );
        }),
      delete: (name) => call('ssm', 'delete', () => this.ssm.delete(name)),
    };
    return {
      clock: {
        now: () => k.clock.now(),
        // Waiting on real etcd (its election, say) takes the real time it takes, as its I/O does.
        sleep: (ms) =>
          this.real ? k.realIo(() => new Promise<void>((r) => setTimeout(r, ms))) : k.sleep(ms),
      },
      fleet: {
        describeGroup: (name, o) =>
          call('autoscaling', 'describeGroup', () => {
            const g = group(name);
            if (!g) return { name, desired: 0, instances: [] };
            // DescribeAutoScalingGroups, then DescribeWarmPool (unless the caller says the group has
            // no pool, as the AWS adapter skips it): the pool's Warmed:* instances too.
            const d = g.describe();
            return o?.warmPool === false ? d : { ...d, instances: [...d.instances, ...g.describeWarmPool()] };
          }),
        completeLifecycleAction: (name, id, hook, result) =>
          call('autoscaling', 'completeLifecycleAction', () => {
            const g = group(name) ?? noGroup(name);
            g.completeLifecycleAction(id, hook, result);
          }),
        recordLifecycleHeartbeat: (name, id, hook) =>
          call('autoscaling', 'recordLifecycleHeartbeat', () => {
            const g = group(name) ?? noGroup(name);
            g.recordHeartbeat(id, hook);
          }),
        setInstanceUnhealthy: (id) =>
          call('autoscaling', 'setInstanceUnhealthy', () => {
            this.group.setUnhealthy(id);
          }),
      },
      loadBalancer: {
        describeTargets: (arn) => call('elbv2', 'describeTargets', () => tg(arn).describe()),
        registerTarget: (arn, id) =>
          call('elbv2', 'registerTarget', () => {
            const inst = this.ec2.get(id);
            if (!inst || inst.state === 'terminated') {
              throw new SimAwsError(
                'InvalidTargetException',
                `The following targets are not in a running state and cannot be registered: '${id}'`,
                400,
                rng.hex(8),
              );
            }
            tg(arn).register(id);
          }),
        deregisterTarget: (arn, id) => call('elbv2', 'deregisterTarget', () => tg(arn).deregister(id)),
      },
      parameters,
      etcd: {
        listMembers: (ep) => etcdCall('listMembers', undefined, ep, () => etcd.listMembers(ep)),
        addLearner: (ep, peer) =>
          etcdCall('addLearner', `etcd add-learner ${peer}`, ep, () => etcd.addLearner(ep, peer)),
        promoteMember: (ep, id) =>
          etcdCall('promoteMember', `etcd promote ${id}`, ep, () => etcd.promoteMember(ep, id)),
        removeMember: (ep, id) =>
          etcdCall('removeMember', `etcd remove ${id}`, ep, () => etcd.removeMember(ep, id)),
        status: (ep) => etcdCall('status', undefined, ep, () => etcd.status(ep)),
        moveLeader: (ep, id) =>
          etcdCall('moveLeader', `etcd move-leader -> ${id}`, ep, () => etcd.moveLeader(ep, id)),
        alarms: (ep) => etcdCall('alarms', undefined, ep, () => etcd.alarms(ep)),
      },
      probe: {
        apiReady: (ip) =>
          call('probe', 'apiReady', async () => {
            if (!this.passes(this.links.reconcilerApi)) {
              await k.sleep(PROBE_TIMEOUT_MS);
              return false;
            }
            const inst = this.ec2.byAddress(ip);
            return !!inst && this.ec2.reconcilerReach(ip) && this.nodes.apiReady(inst.id);
          }),
      },
      ...(this.config.backupBucket && startSnapshot
        ? {
            backup: requestingBackupPort((reason) =>
              requestSnapshot(parameters, this.config, k.now(), this.invoke(inv, startSnapshot), reason),
            ),
          }
        : {}),
    };
  }
}
