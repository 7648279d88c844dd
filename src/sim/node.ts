/**
 * A simulated master following the bootstrap protocol (src/contract/protocol.ts): after its boot it
 * polls SSM for its join parameters, starts its etcd member with them, starts the API server once
 * its member is a voter, and sends one `tripod.node` "Node Ready" event. Once its member serves it
 * (and, a learner, is in sync) sends "Member Started", repeated every 10 s while a learner (at most 30). A
 * crashed etcd service is restarted by systemd (Restart=always) unless the fault says it cannot come back.
 * Once ready, the node's watchdog (lib.sh watchdog_check, read from the shipped scripts) checks its
 * units every 30 s, restarts a dead one, and after N failed checks in a row reports its own instance
 * Unhealthy, when the shipped script does so.
 */
import { BOOTSTRAP_SCRIPTS } from '../bootstrap/scripts.generated.js';
import {
  bootFailureParameter,
  clusterRoleName,
  joinParameter,
  MEMBER_STARTED_DETAIL_TYPE,
  MEMBER_STARTED_MAX_SENDS,
  MEMBER_STARTED_REPEAT_MS,
  NODE_EVENT_SOURCE,
  NODE_READY_DETAIL_TYPE,
  restoreParameter,
} from '../contract/protocol.js';
import type { JoinParameters } from '../heal/observed.js';
import { IN_SYNC_SHARE } from '../heal/quorum.js';
import type { Ec2, SimInstance } from './ec2.js';
import type { EtcdModel } from './etcd-model.js';
import type { RealEtcd } from './etcd-real.js';
import type { EventBus } from './eventbridge.js';
import type { Kernel } from './kernel.js';
import { type ParameterStore, sessionArn } from './ssm.js';

export type NodePhase = 'booting' | 'prepared' | 'waiting-join' | 'etcd' | 'ready' | 'failed' | 'gone';

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
  /** etcd crashes again shortly after each restart until then (a crash loop: bad disk, bad package). */
  crashLoopUntil?: number;
  /** The watchdog's failed checks in a row. */
  watchdogFailures?: number;
  /** The restore (its record's requestedAt) this node restored etcd for, and one under way. */
  restored?: string;
  restoring?: boolean;
  /** When the control-plane phases (images, kubeadm init/join) are done: the API server can start. */
  kubeadmDoneAt?: number;
  /**
   * A warm pool instance's prepare is done (master.sh master_prepare): packages and images are in,
   * so the join after it leaves the pool skips them.
   */
  prepared?: boolean;
}

/**
 * The phases of a master's boot as the real script runs them (master.sh master_boot), each with a
 * duration range in simulated ms from published figures (bench/README.md cites them). Instance start
 * (RunInstances to running, or StartInstances from a warm pool's Stopped) is EC2's (src/sim/ec2.ts);
 * the etcd phase is the etcd model's (start, catch-up) and the reconciler's (join parameters, promotion); the rest are here.
 */
export const BOOT_PHASES = {
  /** running -> cloud-init runs the user data (kernel, systemd, cloud-init's stages). */
  osBoot: [15_000, 30_000],
  /** install_packages: apt update, containerd, kubelet/kubeadm/kubectl, the AWS CLI, etcd. */
  packages: [40_000, 120_000],
  /** the control-plane images (kubeadm's preflight pulls them: apiserver, controller-manager, scheduler, proxy, coredns, pause). */
  images: [15_000, 60_000],
  /** kubeadm init (the seed) or join --control-plane, up to its static pods running. */
  kubeadm: [15_000, 45_000],
  /** the local API server's /readyz passes once its etcd member is a voter. */
  apiReady: [5_000, 15_000],
} as const satisfies Record<string, readonly [number, number]>;
export type BootPhase = keyof typeof BOOT_PHASES;

/** What a node needs from its etcd member: the model's, or a real etcd process (etcd-real.ts). */
export interface NodeEtcd {
  /** Starts the member with its join parameters; returns an error text when etcd would exit. */
  startMember(ip: string, params: JoinParameters): string | undefined;
  /** The member on `ip` is a started, connected voter: the API server can come up. */
  servingVoter(ip: string): boolean;
  /** The member on `ip` runs and serves (a learner or a voter). */
  serving(ip: string): boolean;
  /**
   * The member on `ip` passes etcd's promotion test as the node checks it (master.sh learner_in_sync):
   * its raft index is at least IN_SYNC_SHARE of the leader's. A learner's node says "Member Started"
   * only then.
   */
  inSync(ip: string): boolean;
  crash(ip: string, permanent: boolean): void;
  /** The etcd process of `ip` runs (systemctl is-active etcd). */
  running(ip: string): boolean;
  /** systemd restarts the service; an error text when it cannot come back. */
  restart(ip: string): string | undefined;
  /**
   * The seed of a restore (master.sh restore_watch): etcd stops, the snapshot `key` of the restore
   * record is checked and restored into a new one-member cluster, etcd starts on it. An error text
   * when it cannot. Absent: this back end cannot restore (the model).
   */
  restore?(
    ip: string,
    params: JoinParameters,
    snapshot: { key: string; sha256: string },
  ): Promise<string | undefined>;
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
    inSync: (ip) => {
      const m = etcd.memberByPeerIp(ip);
      return (
        !!m &&
        m.running &&
        m.connectedSince !== undefined &&
        etcd.leaderId !== undefined &&
        etcd.indexOf(m) >= IN_SYNC_SHARE * etcd.commitIndex()
      );
    },
    crash: (ip) => etcd.crash(ip),
    running: (ip) => etcd.memberByPeerIp(ip)?.running === true,
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
    inSync: (ip) => {
      const s = real.running(ip) ? real.view.status.get(ip) : undefined;
      if (s === undefined || s.leaderId === '0') return false;
      const leader = [...real.view.status.values()].find((x) => x.memberId === s.leaderId);
      return leader !== undefined && s.raftIndex >= IN_SYNC_SHARE * leader.raftIndex;
    },
    crash: (ip, permanent) => real.crash(ip, permanent),
    running: (ip) => real.running(ip),
    restart: (ip) => real.restart(ip),
    restore: async (ip, params, snapshot) => {
      const file = real.snapshots.get(snapshot.key);
      if (!file) return `cannot download ${snapshot.key}: no such snapshot in the bucket`;
      return real.restore(ip, params, { file, sha256: snapshot.sha256 });
    },
    placementChanged: () => real.applyPlacement(),
  };
}

const POLL_MS = 5_000;
const SYSTEMD_RESTART_MS = 5_000;
/** master.sh's tripod-restore-watch timer. */
const RESTORE_WATCH_MS = 20_000;

/** The node watchdog as the shipped scripts define it (lib.sh watchdog_check, master.sh install_watchdog). */
export interface WatchdogModel {
  /** The master's watched units include etcd. */
  watchesEtcd: boolean;
  /**
   * watchdog_check on a master reports its instance Unhealthy (`set-instance-health ... Unhealthy`,
   * directly or through a lib.sh function it calls, on the path TRIPOD_ROLE=master takes).
   */
  reportsUnhealthy: boolean;
  /** The same on a worker (TRIPOD_ROLE=worker). */
  workerReportsUnhealthy: boolean;
  /** Failed checks in a row before it does. */
  failures: number;
  intervalMs: number;
  /** master.sh restore_watch stops the watchdog's timer while it restores (etcd is down on purpose). */
  pausedDuringRestore: boolean;
}

const REPORTS_UNHEALTHY = /set-instance-health[\s\S]*?Unhealthy/;

/** The body of shell function `name` in `script` ('' when it has none). */
const shellFunction = (script: string, name: string): string =>
  new RegExp(`^${name}\\(\\)\\s*\\{([\\s\\S]*?)^\\}`, 'm').exec(script)?.[1] ?? '';

/**
 * The text of `body` a node with TRIPOD_ROLE=`role` runs: an `if [ "${TRIPOD_ROLE:-}" = x ]` (or `!=`)
 * conditional is replaced by the branch that role takes; everything else runs for every role.
 */
function roleView(body: string, role: string): string {
  const cond =
    /^([ \t]*)if \[ "\$\{?TRIPOD_ROLE(?::-)?\}?" (!?=) "?(\w+)"? \]; then\n([\s\S]*?)^\1(?:else\n([\s\S]*?)^\1)?fi\b/m;
  let text = body;
  for (let m = cond.exec(text); m; m = cond.exec(text)) {
    const matches = (m[2] === '=') === (role === m[3]);
    text = text.slice(0, m.index) + (matches ? m[4] : (m[5] ?? '')) + text.slice(m.index + m[0].length);
  }
  return text;
}

/** Does `text` run `set-instance-health ... Unhealthy`, itself or through a function of `lib` it calls? */
function reportsIn(text: string, lib: string, seen: Set<string>): boolean {
  if (REPORTS_UNHEALTHY.test(text)) return true;
  for (const [, name] of text.matchAll(/(?:^|[\s;&|(])([a-z_][a-z0-9_]*)\b/gm)) {
    if (!name || seen.has(name)) continue;
    seen.add(name);
    const body = shellFunction(lib, name);
    if (body && reportsIn(body, lib, seen)) return true;
  }
  return false;
}

let bootstrapWatchdog: WatchdogModel | undefined;
/** The watchdog of the embedded bootstrap scripts (they are constants: read once). */
const defaultWatchdog = (): WatchdogModel => (bootstrapWatchdog ??= watchdogModel());

export function watchdogModel(scripts: Readonly<Record<string, string>> = BOOTSTRAP_SCRIPTS): WatchdogModel {
  const lib = scripts['lib.sh'] ?? '';
  const master = scripts['master.sh'] ?? '';
  const units = /^\s*install_watchdog\s+(.+)$/m.exec(master)?.[1]?.split(/\s+/) ?? [];
  const check = shellFunction(lib, 'watchdog_check');
  const failures = Number(/TRIPOD_WATCHDOG_FAILURES:-(\d+)/.exec(check)?.[1] ?? '6');
  const interval = /write_timer tripod-watchdog .*?'\s+(\d+)s/.exec(lib)?.[1];
  return {
    watchesEtcd: units.includes('etcd'),
    reportsUnhealthy: reportsIn(roleView(check, 'master'), lib, new Set(['watchdog_check'])),
    workerReportsUnhealthy: reportsIn(roleView(check, 'worker'), lib, new Set(['watchdog_check'])),
    failures,
    intervalMs: Number(interval ?? '30') * 1000,
    pausedDuringRestore: /systemctl stop tripod-watchdog\.timer/.test(shellFunction(master, 'restore_watch')),
  };
}

export class Nodes {
  readonly nodes = new Map<string, SimNode>();
  /**
   * Can a joining master reach another master's API server on its address (master.sh's
   * discovery_master and `kubeadm join --control-plane` through it)? The cloud asks the security groups.
   */
  joinApiReachable: () => boolean = () => true;
  /** The watchdog reports its own instance Unhealthy (the cloud wires it to the group). */
  reportUnhealthy: (instanceId: string) => void = () => {};
  /** The instance metadata's `autoscaling/target-lifecycle-state` (the cloud asks the group). */
  targetLifecycleState: (instanceId: string) => string | undefined = () => 'InService';
  /** The node completes its own warm-up hook CONTINUE (master.sh complete_lifecycle); the cloud wires it. */
  completeWarmUp: (instanceId: string) => void = () => {};
  /** Its own copy (a test may change it): the scripts are parsed once per process, not per cloud. */
  readonly watchdog: WatchdogModel = { ...defaultWatchdog() };
  /** The next boots fail (a boot-failure fault): `record` says whether the node writes its boot-failed record. */
  private readonly bootFailures: Array<{ why: string; record: boolean }> = [];

  constructor(
    private readonly k: Kernel,
    private readonly ec2: Ec2,
    private readonly ssm: ParameterStore,
    private readonly bus: EventBus,
    private readonly etcd: NodeEtcd,
    private readonly cluster: string,
  ) {}

  /** EC2 says the instance runs: user data starts (or, a prepared pool instance started again, its join unit). */
  boot(instance: SimInstance): void {
    const before = this.nodes.get(instance.id);
    if (before?.prepared && before.phase === 'prepared') {
      this.warmJoin(before);
      return;
    }
    const node: SimNode = {
      instance,
      phase: 'booting',
      apiUp: false,
      readySent: false,
      memberStartedSent: 0,
      etcdBroken: false,
    };
    this.nodes.set(instance.id, node);
    const failure = this.bootFailures.shift();
    // RunInstances (the group's launch) to running: EC2's part (src/sim/ec2.ts).
    this.logPhase(node, 'instanceStart', this.k.now() - instance.launchTime);
    const osBoot = this.phase(node, 'osBoot');
    const packages = this.phase(node, 'packages');
    this.k.after(osBoot + packages, () => {
      if (node.phase !== 'booting') return;
      this.logPhase(node, 'osBoot', osBoot);
      this.logPhase(node, 'packages', packages);
      if (failure) {
        if (failure.record) this.fail(node, failure.why);
        else {
          node.phase = 'failed';
          node.failure = failure.why;
          this.k.log('node', `${node.instance.id} bootstrap hangs: ${failure.why} (no boot-failed record)`);
        }
        return;
      }
      const target = this.targetLifecycleState(instance.id) ?? '';
      if (target.startsWith('Warmed:')) {
        this.prepare(node);
        return;
      }
      this.startJoin(node);
    });
  }

  /**
   * master.sh master_prepare (target lifecycle state Warmed:*): the images too, then the join unit
   * for the next start, then the node completes its warm-up hook; Auto Scaling stops it (or, a
   * Running pool, it waits for InService in the instance metadata).
   */
  private prepare(node: SimNode): void {
    const images = this.phase(node, 'images');
    this.k.after(images, () => {
      if (node.phase !== 'booting' || !this.ec2.alive(node.instance)) return;
      this.logPhase(node, 'images', images);
      node.prepared = true;
      node.phase = 'prepared';
      this.k.log('node', `${node.instance.id} prepared for the warm pool: completes its warm-up hook`);
      this.completeWarmUp(node.instance.id);
      this.waitInService(node);
    });
  }

  /** A Running pool's prepared node polls its target lifecycle state until the group takes it. */
  private waitInService(node: SimNode): void {
    this.k.after(POLL_MS, () => {
      if (node.phase !== 'prepared' || node.instance.state !== 'running') return;
      if (this.targetLifecycleState(node.instance.id) === 'InService') {
        this.k.log('node', `${node.instance.id} left the warm pool (running): joins`);
        this.startJoin(node);
        return;
      }
      this.waitInService(node);
    });
  }

  /** A prepared pool instance started again (StartInstances): the OS boots, then the join; no packages, no images. */
  private warmJoin(node: SimNode): void {
    this.logPhase(node, 'instanceStart', this.k.now() - node.instance.launchTime);
    const osBoot = this.phase(node, 'osBoot');
    this.k.after(osBoot, () => {
      if (node.phase !== 'prepared') return;
      this.logPhase(node, 'osBoot', osBoot);
      this.k.log('node', `${node.instance.id} left the warm pool (started): joins`);
      this.startJoin(node);
    });
  }

  private startJoin(node: SimNode): void {
    node.phase = 'waiting-join';
    this.loop(node);
    this.restoreWatch(node);
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
      // The seed of a restore (join with `restore`): the restore watch starts its etcd on the snapshot.
      if (params.restore !== undefined) return;
      const err = this.etcd.startMember(ip, params);
      if (err) {
        this.fail(node, err);
        return;
      }
      node.phase = 'etcd';
      node.seed = params.initialClusterState === 'new';
      this.k.log('node', `${node.instance.id} started etcd (${params.initialClusterState})`);
      this.nudge(node);
      // master_boot goes on at once: kubeadm pulls the images and runs init/join beside the learner's catch-up.
      // A prepared pool instance pulled them while it warmed up.
      const images = node.prepared ? 0 : this.phase(node, 'images');
      const kubeadm = this.phase(node, 'kubeadm');
      this.k.after(images + kubeadm, () => {
        if (node.phase !== 'etcd') return;
        if (!node.prepared) this.logPhase(node, 'images', images);
        this.logPhase(node, 'kubeadm', kubeadm);
        node.kubeadmDoneAt = this.k.now();
      });
      return;
    }
    if (node.phase === 'etcd' && !node.apiUp && node.kubeadmDoneAt !== undefined) {
      if (this.etcd.servingVoter(ip) && (node.seed || this.joinApiReachable())) {
        node.apiUp = true;
        const apiReady = this.phase(node, 'apiReady');
        this.k.after(apiReady, () => {
          if (node.phase !== 'etcd') return;
          node.phase = 'ready';
          this.logPhase(node, 'apiReady', apiReady);
          this.k.log('node', `${node.instance.id} API server ready`);
          // master.sh: install_watchdog, then the ready event.
          this.k.after(this.watchdog.intervalMs, () => this.watchdogCheck(node));
          this.sendReady(node);
        });
      }
    }
  }

  /**
   * The node's "Member Started" loop (master.sh member_started_loop): polls every second until its
   * member serves and, a learner, is in sync (etcd's promotion test), sends the event, then repeats it
   * every 10 s while the member is a learner.
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
    if (node.memberStartedSent === 0 && !voter && !this.etcd.inSync(ip)) {
      this.k.after(1_000, () => this.nudge(node));
      return;
    }
    node.memberStartedSent++;
    this.k.log('node', `${node.instance.id} member started: event ${node.memberStartedSent} sent`);
    this.bus.emit({
      source: NODE_EVENT_SOURCE,
      detailType: MEMBER_STARTED_DETAIL_TYPE,
      instanceId: node.instance.id,
    });
    if (!voter) this.k.after(MEMBER_STARTED_REPEAT_MS, () => this.nudge(node));
  }

  /** A phase's duration for this node, drawn from its range. */
  private phase(_node: SimNode, name: BootPhase): number {
    const [lo, hi] = BOOT_PHASES[name];
    return this.k.rng.int(lo, hi);
  }

  /** The timeline line bench/sandbox.ts breaks a heal down by. */
  private logPhase(node: SimNode, name: BootPhase | 'instanceStart', ms: number): void {
    this.k.log('node', `${node.instance.id} phase ${name} ${(ms / 1000).toFixed(1)} s`);
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
    // Written as the instance's own role session, as report_boot_failure on a master does.
    const session = sessionArn(clusterRoleName(this.cluster, 'master'), node.instance.id);
    this.ssm.put(bootFailureParameter(this.cluster, node.instance.id), why, false, session);
    this.k.log('node', `${node.instance.id} bootstrap failed: ${why}`);
  }

  /**
   * master.sh restore_watch (a timer on every master): when the node's join carries `restore` and
   * the restore record is that one, it stops etcd, restores the record's snapshot into a new
   * one-member cluster and starts etcd on it, once per restore; then nudges the reconciler.
   */
  private restoreWatch(node: SimNode): void {
    const restore = this.etcd.restore;
    if (node.phase === 'gone' || node.phase === 'failed' || !restore) return;
    this.k.after(RESTORE_WATCH_MS, () => this.restoreWatch(node));
    if (node.restoring || !this.ec2.alive(node.instance)) return;
    const id = node.instance.id;
    let params: JoinParameters;
    let record: { requestedAt?: string; key?: string; sha256?: string };
    try {
      params = JSON.parse(this.ssm.get(joinParameter(this.cluster, id)) ?? '{}') as JoinParameters;
      record = JSON.parse(this.ssm.get(restoreParameter(this.cluster)) ?? '{}');
    } catch {
      return;
    }
    const want = params.restore;
    if (want === undefined || node.restored === want) return;
    if (record.requestedAt !== want || !record.key || !record.sha256) {
      this.k.log('node', `${id}: its join asks for restore ${want}, but the restore record is another one`);
      return;
    }
    const snapshot = { key: record.key, sha256: record.sha256 };
    node.restoring = true;
    this.k.log('node', `${id} is the seed of restore ${want}: stops etcd, restores ${snapshot.key}`);
    this.k.spawn(
      () => restore(node.instance.ip, params, snapshot),
      (r) => {
        node.restoring = false;
        const err = r.ok ? r.value : String(r.error);
        if (err) {
          this.k.log('node', `${id} restore failed: ${err}`);
          return;
        }
        node.restored = want;
        node.seed = true;
        node.memberStartedSent = 0;
        if (node.phase === 'waiting-join') node.phase = 'etcd';
        this.k.log('node', `${id} restored ${snapshot.key}: etcd runs as a new one-member cluster`);
        this.nudge(node);
      },
    );
  }

  /** The node's own /readyz (probed on its private address). */
  apiReady(instanceId: string): boolean {
    const node = this.nodes.get(instanceId);
    if (node?.phase !== 'ready' || !this.ec2.alive(node.instance)) return false;
    return this.etcd.servingVoter(node.instance.ip);
  }

  /** The next `count` masters to boot fail (`record`: the node writes its boot-failed record). */
  failNextBoots(count: number, why: string, record: boolean): void {
    for (let i = 0; i < count; i++) this.bootFailures.push({ why, record });
  }

  /** etcd crash-loops on this node until `until`: it dies a second or two after each systemd restart. */
  crashLoop(instanceId: string, until: number): void {
    const node = this.nodes.get(instanceId);
    if (!node || node.phase === 'gone') return;
    node.crashLoopUntil = until;
    this.crashEtcd(instanceId, false);
  }

  /** The etcd service is active on the node (systemctl is-active): its process runs. */
  private etcdActive(node: SimNode): boolean {
    return !node.etcdBroken && this.etcd.running(node.instance.ip);
  }

  /** lib.sh watchdog_check, every interval once the node is ready. */
  private watchdogCheck(node: SimNode): void {
    if (node.phase === 'gone' || node.instance.state === 'terminated') return;
    this.k.after(this.watchdog.intervalMs, () => this.watchdogCheck(node));
    if (!this.ec2.alive(node.instance) || !this.watchdog.watchesEtcd) return;
    if (node.restoring && this.watchdog.pausedDuringRestore) return;
    if (this.etcdActive(node)) {
      node.watchdogFailures = 0;
      return;
    }
    node.watchdogFailures = (node.watchdogFailures ?? 0) + 1;
    // `systemctl restart etcd` (a crash loop is already being restarted by systemd itself).
    if (this.k.now() >= (node.crashLoopUntil ?? 0)) this.restartEtcd(node);
    if (this.watchdog.reportsUnhealthy && node.watchdogFailures >= this.watchdog.failures) {
      this.k.log(
        'node',
        `${node.instance.id} watchdog: etcd still down after ${node.watchdogFailures} checks: reporting the instance Unhealthy`,
      );
      this.reportUnhealthy(node.instance.id);
    }
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
    if (err) {
      this.k.log('node', `${node.instance.id} etcd restart failed: ${err}`);
      return;
    }
    const loopUntil = node.crashLoopUntil ?? 0;
    if (this.k.now() < loopUntil) {
      // It dies again during its start-up (a bad disk, a bad package).
      this.k.after(this.k.rng.int(500, 2_000), () => {
        if (node.phase === 'gone') return;
        this.etcd.crash(node.instance.ip, false);
        this.k.after(SYSTEMD_RESTART_MS, () => this.restartEtcd(node));
      });
    }
  }
}
