/**
 * The worker group in the simulator, made from the provisioner's declarations (the desired
 * `asg/workers`: its size and its lifecycle hooks, with their heartbeat timeouts and default
 * results), and its nodes as worker.sh runs them:
 *  - boot (worker_boot): the OS, the packages, `kubeadm join` through the API endpoint, then the node
 *    completes its own launching hook CONTINUE (the reconciler usually has already, once EC2 said
 *    the instance runs: then the node's call finds no action and the node logs it, as
 *    complete_lifecycle does), then its lifecycle watcher polls the instance metadata's target
 *    lifecycle state every TRIPOD_LIFECYCLE_POLL seconds (lib.sh watch_lifecycle);
 *  - leave (worker_leave, once the target state is Terminated, i.e. Terminating:Wait): `kubectl
 *    drain` bounded by TRIPOD_DRAIN_TIMEOUT (contract/worker-drain.ts), then, when the drain
 *    finished, the `workers/drained/<id>` parameter written with the node's own session, then its
 *    terminating hook completed CONTINUE (also after a drain that timed out, without the parameter).
 * A node that is not joined yet has no watcher: nobody on it drains, the reconciler's fallback
 * (heal/worker-hooks.ts) or the hook's timeout completes. A fault kills a node in the middle of its
 * drain (EC2 terminates the instance: a host failure, a Spot reclaim): it neither writes the
 * parameter nor completes the hook, so the reconciler's fallback after its drain deadline does.
 *
 * The simulator has no service target groups (the desired tg/svc-*): the worker group registers in
 * none and the reconciler's serviceTargetGroupArns is empty, so nothing is deregistered.
 */
import { BOOTSTRAP_SCRIPTS } from '../bootstrap/scripts.generated.js';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { clusterRoleName } from '../contract/protocol.js';
import { workerDrainSeconds } from '../contract/worker-drain.js';
import { workerDrainedParameter } from '../heal/worker-hooks.js';
import type { DesiredGroup } from '../provision/auto-scaling-group.js';
import type { Desired } from '../provision/resource.js';
import { AutoScalingGroup, declaredHookOptions } from './auto-scaling.js';
import type { SimCloud } from './cloud.js';
import type { SimInstance } from './ec2.js';
import { BOOT_PHASES } from './node.js';
import { sessionArn } from './ssm.js';

/**
 * How long `kubectl drain` takes on a worker, simulated ms. An ESTIMATE, not a measurement: cordon
 * is immediate; evictions go through the API server in parallel and each pod stops within its
 * terminationGracePeriodSeconds (30 s by default) unless a PodDisruptionBudget holds it back a
 * while. So: 20 s for a node of short-lived pods, up to 3 min for one with slow shutdowns or a PDB
 * that lets one pod go at a time. A longer drain is cut by TRIPOD_DRAIN_TIMEOUT.
 */
export const WORKER_DRAIN_MS = [20_000, 180_000] as const;
/** An `aws` CLI call from the node (put-parameter, complete-lifecycle-action): a second or so. */
const NODE_CALL_MS = [300, 1_500] as const;

/** lib.sh watch_lifecycle's poll of the target lifecycle state, seconds (its default). */
export function lifecyclePollMs(scripts: Readonly<Record<string, string>> = BOOTSTRAP_SCRIPTS): number {
  const s = /TRIPOD_LIFECYCLE_POLL:-(\d+)/.exec(scripts['lib.sh'] ?? '')?.[1];
  return Number(s ?? '5') * 1000;
}

export type WorkerPhase = 'booting' | 'joined' | 'draining' | 'left' | 'gone';

export interface WorkerNode {
  instance: SimInstance;
  phase: WorkerPhase;
  /** How the leave went (undefined: not leaving yet). */
  drain?: 'drained' | 'timed-out' | 'died';
}

export interface WorkerNodeOptions {
  /** TRIPOD_DRAIN_TIMEOUT in ms (node.env; contract/worker-drain.ts). */
  drainTimeoutMs: number;
  /** The drain's duration range (default WORKER_DRAIN_MS). */
  drainMs?: readonly [number, number];
}

export class WorkerNodes {
  readonly nodes = new Map<string, WorkerNode>();
  readonly stats = { joined: 0, drained: 0, drainTimedOut: 0, diedDraining: 0, ownHooksCompleted: 0 };
  private readonly pollMs = lifecyclePollMs();
  /** Drains still to come that die half-way (the fault). */
  private dyingDrains = 0;

  constructor(
    private readonly cloud: SimCloud,
    readonly group: AutoScalingGroup,
    private readonly opts: WorkerNodeOptions,
  ) {
    const ec2 = cloud.ec2;
    const running = ec2.onRunning;
    ec2.onRunning = (i) => {
      running(i);
      if (i.groupName === group.name) this.boot(i);
    };
    const terminated = ec2.onTerminated;
    ec2.onTerminated = (i) => {
      terminated(i);
      const node = this.nodes.get(i.id);
      if (node) node.phase = 'gone';
    };
  }

  /** The fault: the next `count` drains die half-way (EC2 terminates the instance under the node). */
  dieWhileDraining(count = 1): void {
    this.dyingDrains += count;
  }

  private boot(instance: SimInstance): void {
    const k = this.cloud.k;
    const node: WorkerNode = { instance, phase: 'booting' };
    this.nodes.set(instance.id, node);
    // worker_boot: OS, packages (no etcd, no control-plane images), kubeadm join.
    const ms = (['osBoot', 'packages', 'kubeadm'] as const).reduce(
      (sum, p) => sum + k.rng.int(BOOT_PHASES[p][0], BOOT_PHASES[p][1]),
      0,
    );
    k.after(ms, () => {
      if (node.phase !== 'booting' || !this.cloud.ec2.alive(instance)) return;
      node.phase = 'joined';
      this.stats.joined++;
      k.log('node', `worker ${instance.id} joined the cluster: completes its launching hook`);
      this.complete(node, 'launching');
      this.watch(node);
    });
  }

  /** complete_lifecycle: the node's own `complete-lifecycle-action ... CONTINUE`, or a log line when none waits. */
  private complete(node: WorkerNode, hook: 'launching' | 'terminating'): void {
    try {
      this.group.completeLifecycleAction(node.instance.id, hook, 'CONTINUE');
      this.stats.ownHooksCompleted++;
    } catch (e) {
      this.cloud.k.log(
        'node',
        `worker ${node.instance.id}: no ${hook} lifecycle action to complete (${(e as Error).message})`,
      );
    }
  }

  /** lib.sh watch_lifecycle: leave once the target lifecycle state is Terminated. */
  private watch(node: WorkerNode): void {
    this.cloud.k.after(this.pollMs, () => {
      if (node.phase !== 'joined') return;
      if (
        this.cloud.ec2.alive(node.instance) &&
        this.group.targetLifecycleState(node.instance.id) === 'Terminated'
      ) {
        this.leave(node);
        return;
      }
      this.watch(node);
    });
  }

  /** worker.sh worker_leave: drain (bounded), the drained parameter when it finished, then the hook. */
  private leave(node: WorkerNode): void {
    const k = this.cloud.k;
    const id = node.instance.id;
    node.phase = 'draining';
    const [lo, hi] = this.opts.drainMs ?? WORKER_DRAIN_MS;
    const wanted = k.rng.int(lo, hi);
    const took = Math.min(wanted, this.opts.drainTimeoutMs);
    k.log('node', `worker ${id} is terminating: drains (${Math.round(took / 1000)} s)`);
    if (this.dyingDrains > 0) {
      this.dyingDrains--;
      k.after(k.rng.int(1_000, Math.max(1_000, took - 1_000)), () => {
        if (node.phase !== 'draining') return;
        node.drain = 'died';
        this.stats.diedDraining++;
        this.cloud.faults.killed.add(id);
        k.log('fault', `worker ${id} dies in the middle of its drain (the instance is terminated)`);
        this.cloud.ec2.terminate(id);
      });
      return;
    }
    k.after(took, () => {
      if (node.phase !== 'draining' || !this.cloud.ec2.alive(node.instance)) return;
      const cluster = this.cloud.config.cluster;
      if (wanted <= this.opts.drainTimeoutMs) {
        node.drain = 'drained';
        this.stats.drained++;
        k.log('node', `worker ${id} drained`);
        this.cloud.ssm.put(
          workerDrainedParameter(cluster, id),
          new Date(k.now()).toISOString(),
          false,
          sessionArn(clusterRoleName(cluster, 'worker'), id),
        );
      } else {
        node.drain = 'timed-out';
        this.stats.drainTimedOut++;
        k.log('node', `worker ${id}: drain did not finish within ${this.opts.drainTimeoutMs / 1000} s`);
      }
      k.after(k.rng.int(NODE_CALL_MS[0], NODE_CALL_MS[1]), () => {
        if (!this.cloud.ec2.alive(node.instance)) return;
        node.phase = 'left';
        this.complete(node, 'terminating');
      });
    });
  }
}

/**
 * The worker group the provisioner declares for `spec` (its desired `asg/workers`), in `cloud`, with
 * its nodes; attached to the cloud, so the reconciler's ports reach it.
 */
export function simWorkerGroup(
  cloud: SimCloud,
  spec: ClusterSpec,
  resources: readonly Desired[],
  opts: { drainMs?: readonly [number, number] } = {},
): { group: AutoScalingGroup; nodes: WorkerNodes } {
  const declared = resources.find((r) => r.key === 'asg/workers')?.value as DesiredGroup | undefined;
  if (!declared) throw new Error(`the desired resources of cluster ${spec.name} have no asg/workers`);
  if (declared.name !== cloud.config.workerGroupName)
    throw new Error(
      `asg/workers is ${declared.name}, but the simulated cloud's reconciler knows the worker group as ${cloud.config.workerGroupName}`,
    );
  const group = new AutoScalingGroup(cloud.k, cloud.ec2, cloud.zones, cloud.bus, {
    name: declared.name,
    desired: declared.desired ?? declared.min,
    min: declared.min,
    max: declared.max,
    ...declaredHookOptions(declared.name, declared.hooks),
    // The simulator has no service target groups (see above).
    targetGroups: [],
    impairedGraceMs: 60_000,
    tickMs: 10_000,
  });
  cloud.workers = group;
  const nodes = new WorkerNodes(cloud, group, {
    drainTimeoutMs: workerDrainSeconds(spec) * 1000,
    ...(opts.drainMs ? { drainMs: opts.drainMs } : {}),
  });
  return { group, nodes };
}
