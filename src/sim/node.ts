/**
 * A simulated master following the bootstrap protocol (src/heal/protocol.ts): after its boot it
 * polls SSM for its join parameters, starts its etcd member with them, starts the API server once
 * its member is a voter, and sends one `tripod.node` "Node Ready" event. Once its member serves it
 * sends "Member Started", repeated every 10 s while the member is a learner (at most 30 times). A
 * crashed etcd service is restarted by systemd (Restart=always) unless the fault says it cannot come back.
 */
import type { JoinParameters } from '../heal/observed.js';
import {
  bootFailureParameter,
  joinParameter,
  MEMBER_STARTED_DETAIL_TYPE,
  MEMBER_STARTED_MAX_SENDS,
  MEMBER_STARTED_REPEAT_MS,
  NODE_EVENT_SOURCE,
  NODE_READY_DETAIL_TYPE,
} from '../heal/protocol.js';
import type { Ec2, SimInstance } from './ec2.js';
import type { EtcdModel } from './etcd-model.js';
import type { RealEtcd } from './etcd-real.js';
import type { EventBus } from './eventbridge.js';
import type { Kernel } from './kernel.js';
import type { ParameterStore } from './ssm.js';

export type NodePhase = 'booting' | 'waiting-join' | 'etcd' | 'ready' | 'failed' | 'gone';

export interface SimNode {
  instance: SimInstance;
  phase: NodePhase;
  apiUp: boolean;
  readySent: boolean;
  /** How many "Member Started" events the node sent. */
  memberStartedSent: number;
  /** The etcd service cannot restart (a permanent fault: a broken disk, say). */
  etcdBroken: boolean;
  /** Started etcd as the seed (kubeadm init); a joining master needs another master's API server. */
  seed?: boolean;
  failure?: string;
}

/** What a node needs from its etcd member: the model's, or a real etcd process (etcd-real.ts). */
export interface NodeEtcd {
  /** Starts the member with its join parameters; returns an error text when etcd would exit. */
  startMember(ip: string, params: JoinParameters): string | undefined;
  /** The member on `ip` is a started, connected voter: the API server can come up. */
  servingVoter(ip: string): boolean;
  /** The member on `ip` runs and serves (a learner or a voter): the node says "Member Started". */
  serving(ip: string): boolean;
  crash(ip: string, permanent: boolean): void;
  /** systemd restarts the service; an error text when it cannot come back. */
  restart(ip: string): string | undefined;
  /** An instance is gone or a zone changed: processes follow. */
  placementChanged(): void;
}

export function modelNodeEtcd(etcd: EtcdModel): NodeEtcd {
  return {
    startMember: (ip, params) => etcd.startMember(ip, params),
    servingVoter: (ip) => {
      const m = etcd.memberByPeerIp(ip);
      return !!m && !m.isLearner && m.running && m.connectedSince !== undefined;
    },
    serving: (ip) => {
      const m = etcd.memberByPeerIp(ip);
      return !!m && m.running && m.connectedSince !== undefined;
    },
    crash: (ip) => etcd.crash(ip),
    restart: (ip) => etcd.restart(ip),
    placementChanged: () => etcd.refresh(),
  };
}

export function realNodeEtcd(real: RealEtcd): NodeEtcd {
  return {
    startMember: (ip, params) => real.start(ip, params.name, params),
    servingVoter: (ip) => real.servingVoter(ip),
    serving: (ip) => {
      const s = real.running(ip) ? real.view.status.get(ip) : undefined;
      return s !== undefined && s.leaderId !== '0';
    },
    crash: (ip, permanent) => real.crash(ip, permanent),
    restart: (ip) => real.restart(ip),
    placementChanged: () => real.applyPlacement(),
  };
}

const POLL_MS = 5_000;
const SYSTEMD_RESTART_MS = 5_000;

export class Nodes {
  readonly nodes = new Map<string, SimNode>();
  /**
   * Can a joining master reach another master's API server on its address (master.sh's
   * discovery_master and `kubeadm join --control-plane` through it)? The cloud asks the security groups.
   */
  joinApiReachable: () => boolean = () => true;

  constructor(
    private readonly k: Kernel,
    private readonly ec2: Ec2,
    private readonly ssm: ParameterStore,
    private readonly bus: EventBus,
    private readonly etcd: NodeEtcd,
    private readonly cluster: string,
  ) {}

  /** EC2 says the instance runs: user data starts. */
  boot(instance: SimInstance): void {
    const node: SimNode = {
      instance,
      phase: 'booting',
      apiUp: false,
      readySent: false,
      memberStartedSent: 0,
      etcdBroken: false,
    };
    this.nodes.set(instance.id, node);
    this.k.after(this.k.rng.int(5_000, 20_000), () => {
      if (node.phase !== 'booting') return;
      node.phase = 'waiting-join';
      this.loop(node);
    });
  }

  gone(instance: SimInstance): void {
    const node = this.nodes.get(instance.id);
    if (node) node.phase = 'gone';
    this.etcd.placementChanged();
  }

  private loop(node: SimNode): void {
    if (node.phase === 'gone' || node.phase === 'failed') return;
    if (this.ec2.alive(node.instance)) this.step(node);
    if (node.phase === 'ready') return;
    this.k.after(POLL_MS, () => this.loop(node));
  }

  private step(node: SimNode): void {
    const ip = node.instance.ip;
    if (node.phase === 'waiting-join') {
      const raw = this.ssm.get(joinParameter(this.cluster, node.instance.id));
      if (raw === undefined) return;
      let params: JoinParameters;
      try {
        params = JSON.parse(raw) as JoinParameters;
      } catch {
        this.fail(node, `join parameters are not JSON: ${raw.slice(0, 40)}`);
        return;
      }
      const err = this.etcd.startMember(ip, params);
      if (err) {
        this.fail(node, err);
        return;
      }
      node.phase = 'etcd';
      node.seed = params.initialClusterState === 'new';
      this.k.log('node', `${node.instance.id} started etcd (${params.initialClusterState})`);
      this.nudge(node);
      return;
    }
    if (node.phase === 'etcd' && !node.apiUp) {
      if (this.etcd.servingVoter(ip) && (node.seed || this.joinApiReachable())) {
        node.apiUp = true;
        // kubeadm brings up the control plane; /readyz passes after a while.
        this.k.after(this.k.rng.int(10_000, 30_000), () => {
          if (node.phase !== 'etcd') return;
          node.phase = 'ready';
          this.k.log('node', `${node.instance.id} API server ready`);
          this.sendReady(node);
        });
      }
    }
  }

  /**
   * The node's "Member Started" loop (master.sh member_started_loop): polls every second until its
   * member serves, sends the event, then repeats it every 10 s while the member is a learner.
   */
  private nudge(node: SimNode): void {
    if (node.phase !== 'etcd' || node.memberStartedSent >= MEMBER_STARTED_MAX_SENDS) return;
    if (!this.ec2.alive(node.instance)) return;
    const ip = node.instance.ip;
    if (!this.etcd.serving(ip)) {
      this.k.after(1_000, () => this.nudge(node));
      return;
    }
    const voter = this.etcd.servingVoter(ip);
    if (node.memberStartedSent > 0 && voter) return; // promoted: the nudge is over
    node.memberStartedSent++;
    this.k.log('node', `${node.instance.id} member started: event ${node.memberStartedSent} sent`);
    this.bus.emit({
      source: NODE_EVENT_SOURCE,
      detailType: MEMBER_STARTED_DETAIL_TYPE,
      instanceId: node.instance.id,
    });
    if (!voter) this.k.after(MEMBER_STARTED_REPEAT_MS, () => this.nudge(node));
  }

  private sendReady(node: SimNode): void {
    if (node.readySent) return;
    node.readySent = true;
    this.bus.emit({
      source: NODE_EVENT_SOURCE,
      detailType: NODE_READY_DETAIL_TYPE,
      instanceId: node.instance.id,
    });
  }

  private fail(node: SimNode, why: string): void {
    node.phase = 'failed';
    node.failure = why;
    this.ssm.put(bootFailureParameter(this.cluster, node.instance.id), why);
    this.k.log('node', `${node.instance.id} bootstrap failed: ${why}`);
  }

  /** The node's own /readyz (probed on its private address). */
  apiReady(instanceId: string): boolean {
    const node = this.nodes.get(instanceId);
    if (node?.phase !== 'ready' || !this.ec2.alive(node.instance)) return false;
    return this.etcd.servingVoter(node.instance.ip);
  }

  /** The etcd service crashes; systemd restarts it unless `permanent`. */
  crashEtcd(instanceId: string, permanent: boolean): void {
    const node = this.nodes.get(instanceId);
    if (!node) return;
    if (permanent) node.etcdBroken = true;
    this.etcd.crash(node.instance.ip, permanent);
    if (!permanent) this.k.after(SYSTEMD_RESTART_MS, () => this.restartEtcd(node));
  }

  /** The member was removed: etcd exits, systemd restarts it, and it fails for good. */
  memberRemoved(ip: string): void {
    const inst = this.ec2.byAddress(ip);
    const node = inst ? this.nodes.get(inst.id) : undefined;
    if (node && node.phase !== 'gone') this.k.log('node', `${node.instance.id} etcd exited: member removed`);
  }

  private restartEtcd(node: SimNode): void {
    if (node.phase === 'gone' || node.etcdBroken) return;
    if (!this.ec2.alive(node.instance)) {
      this.k.after(SYSTEMD_RESTART_MS, () => this.restartEtcd(node));
      return;
    }
    const err = this.etcd.restart(node.instance.ip);
    if (err) this.k.log('node', `${node.instance.id} etcd restart failed: ${err}`);
  }
}
