/**
 * The sandbox: the project's main job on one machine. The example cluster is "provisioned" into the
 * simulated cloud from the provisioner's plan (desired resources against an empty world), its
 * masters run REAL etcd processes (etcd-real.ts) started by the bootstrap's etcd-member.sh through
 * the join handshake, the real reconciler (reconcilePass, the Lambda's code) heals, and the
 * article's failure scenarios are played one after another with a live timeline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import { deriveTopology } from '../cluster-spec/topology.js';
import { resourceNames } from '../contract/names.js';
import { restoreParameter, statusParameter } from '../contract/protocol.js';
import { snapshotKey } from '../heal/backup-policy.js';
import { reconcilePass } from '../heal/reconcile.js';
import { planRestore, type RestoreRecord, restoreRefusal, restoreStage } from '../heal/restore.js';
import { parseStatus } from '../heal/status.js';
import type { DesiredGroup } from '../provision/auto-scaling-group.js';
import { desiredCluster } from '../provision/desired.js';
import { KINDS, type Plan, type PlannedChange } from '../provision/plan.js';
import type { AutoScalingGroup } from './auto-scaling.js';
import { SimCloud } from './cloud.js';
import { killAllEtcd, pickEtcdPorts, type RealEtcd, removeOnInterrupt } from './etcd-real.js';
import type { TimelineEntry } from './kernel.js';
import { ReconcilerLambda } from './lambda.js';
import { NetworkModel } from './network.js';
import { makeClusterPki } from './pki.js';
import { RealWatch, realNotConverged } from './real-invariants.js';
import { warmPoolOf } from './sim-spec.js';
import { simWorkerGroup } from './worker-node.js';

export const SCENARIOS = [
  'lose-master',
  'lose-etcd',
  'lose-worker',
  'lose-zone',
  'partition',
  'zone-back',
  'lose-quorum',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  'lose-master': 'lose a master (its instance is killed)',
  'lose-etcd': 'lose an etcd service (crashes for good: systemd cannot restart it)',
  'lose-worker': 'lose a worker (its instance is killed)',
  'lose-zone': 'lose a whole zone',
  partition: 'partition a zone from the others (shorter than the debounce)',
  'zone-back': 'the lost zone comes back (AZ rebalance)',
  'lose-quorum':
    'lose quorum: a majority of masters destroyed with their data, then `tripod restore` from a snapshot',
};

/** Virtual time runs this many times faster than the wall clock (boots, polls, schedules, debounce). */
export const DEFAULT_SPEED = 20;
/** A partition shorter than the reconciler's unhealthy threshold: nothing must be replaced. */
const PARTITION_MS = 60_000;
const SCENARIO_TIMEOUT_REAL_MS = 75_000;
/** lose-quorum waits for quorum loss to be reported, restores, then grows back: more steps, more time. */
const RESTORE_TIMEOUT_REAL_MS = 150_000;

export interface SandboxOptions {
  spec: ClusterSpec;
  seed: number;
  scenarios: readonly ScenarioName[];
  keep?: boolean;
  speed?: number;
  etcdBin?: string;
  /** Real time allowed for the cluster to form (default 90 s). */
  bootTimeoutRealMs?: number;
  /** Live output, one line at a time. */
  out: (line: string) => void;
  /** The plan, once computed (before anything runs). */
  onPlan?: (plan: Plan) => void;
}

export interface SandboxEvent extends TimelineEntry {
  realMs: number;
}

export interface ScenarioResult {
  name: ScenarioName;
  title: string;
  healed: boolean;
  /** Why not healed (the last unmet condition). */
  notHealed?: string;
  simulatedMs: number;
  realMs: number;
  /** Wall time the reconciler's passes took during the scenario (its own part). */
  reconcilerMs: number;
  passes: number;
  /** Lowest (healthy voters - quorum) seen by the poller during the scenario. */
  minQuorumMargin: number;
  /** Every key written before the scenarios read back after this one. */
  dataOk: boolean;
}

export interface SandboxResult {
  ok: boolean;
  boot: { healed: boolean; simulatedMs: number; realMs: number; notHealed?: string };
  scenarios: ScenarioResult[];
  keysWritten: number;
  keysOk: boolean;
  violations: string[];
  /** etcd processes still alive after the cleanup (must be empty). */
  leftoverPids: number[];
  dir: string;
  /** Every timeline entry with the wall time (ms since the start) it was logged at. */
  timeline: SandboxEvent[];
  plan: Plan;
}

/** The provisioner's plan of the spec's desired resources against an empty world: everything is created. */
export function planFromNothing(spec: ClusterSpec): {
  plan: Plan;
  desired: ReturnType<typeof desiredCluster>;
} {
  const desired = desiredCluster(spec);
  const changes: PlannedChange[] = [];
  for (const kind of KINDS) {
    for (const d of desired.resources.filter((r) => r.kind === kind.kind)) {
      changes.push({
        action: 'create',
        key: d.key,
        kind: d.kind,
        group: kind.group,
        title: d.title,
        changes: [],
      });
    }
  }
  const plan: Plan = {
    cluster: spec.name,
    region: spec.region,
    mode: 'apply',
    changes,
    summary: { create: changes.length, update: 0, replace: 0, delete: 0 },
    hasChanges: changes.length > 0,
    destructive: [],
    conflicts: [],
    warnings: desired.topology.warnings ?? [],
  };
  return { plan, desired };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Scenario {
  /** Injects the failure; returns what failed, for the timeline. */
  inject(): string | Promise<string>;
  /** Real time allowed to heal (default SCENARIO_TIMEOUT_REAL_MS). */
  timeoutRealMs?: number;
  /** Extra condition besides the cluster being converged. */
  extra?: () => string | undefined;
}

export async function runSandbox(opts: SandboxOptions): Promise<SandboxResult> {
  const out = opts.out;
  const speed = opts.speed ?? DEFAULT_SPEED;
  const { spec } = opts;
  const topology = deriveTopology(spec);
  const names = resourceNames(spec.name);
  const { plan, desired } = planFromNothing(spec);
  const order = scenarioOrder(opts.scenarios);
  opts.onPlan?.(plan);
  const dir = await mkdtemp(join(tmpdir(), 'tripod-sandbox-'));
  removeOnInterrupt(dir, !opts.keep);
  const pki = await makeClusterPki(join(dir, 'pki'));

  const masterGroup = desired.resources.find((r) => r.key === 'asg/masters')?.value as
    | DesiredGroup
    | undefined;
  const warmPool = warmPoolOf(desired.resources);

  const cloud = new SimCloud({
    seed: opts.seed,
    cluster: spec.name,
    region: spec.region,
    zones: [...spec.network.zones],
    masters: topology.masters,
    network: NetworkModel.of(spec, desired),
    ...(masterGroup?.hooks ? { masterHooks: masterGroup.hooks } : {}),
    // The master group's warm pool the provisioner declares for the spec (none for size 0).
    ...(warmPool ? { warmPool } : {}),
    realEtcd: {
      dir: join(dir, 'etcd'),
      caDir: pki.caDir,
      tls: pki.tls,
      etcdBin: opts.etcdBin,
      ports: await pickEtcdPorts(),
    },
  });
  const k = cloud.k;
  const real = cloud.real as RealEtcd;
  const hookS = (cloud.group.opts.hookHeartbeatMs ?? 0) / 1000;
  // The worker group with the lifecycle hooks the provisioner declares, and its nodes (worker.sh's
  // boot and drain); the reconciler settles its hooks every pass (heal/worker-hooks.ts).
  const { group: workers } = simWorkerGroup(cloud, spec, desired.resources);

  // ---- live timeline ----
  const wall0 = performance.now();
  const stamp = (at: number) => {
    const real = ((performance.now() - wall0) / 1000).toFixed(1).padStart(6);
    const sim = `${Math.floor(at / 60_000)}:${String(Math.floor((at % 60_000) / 1000)).padStart(2, '0')}`;
    return `${real}s  sim ${sim.padStart(6)}`;
  };
  const SHOWN = new Set(['fault', 'asg', 'decided', 'node', 'etcd', 'lambda', 'sandbox']);
  const events: SandboxEvent[] = [];
  k.onLog = (e) => {
    events.push({ ...e, realMs: Math.round(performance.now() - wall0) });
    if (!SHOWN.has(e.source)) return;
    // Auto Scaling lines about workers say so (the master group's are the ones that matter to etcd).
    const id = e.source === 'asg' ? /\b(i-[0-9a-f]{17})\b/.exec(e.text)?.[1] : undefined;
    const source = id && cloud.ec2.get(id)?.groupName === names.workerGroup ? 'workers' : e.source;
    out(`${stamp(e.at)}  ${source.padEnd(8)} ${e.text}`);
  };
  const say = (text: string) => k.log('sandbox', text);

  // ---- the reconciler, timed ----
  let reconcilerMs = 0;
  let passes = 0;
  new ReconcilerLambda(cloud, async (ports, config) => {
    const t0 = performance.now();
    try {
      return await reconcilePass(ports, config);
    } finally {
      reconcilerMs += performance.now() - t0;
      passes++;
    }
  });

  // ---- the watch: the invariants on the real cluster, polled ----
  const watch = new RealWatch(real, (text) => k.log('sandbox', text));
  watch.start();

  const cleanup = async () => {
    await watch.stop();
    await real.stop(opts.keep);
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
    removeOnInterrupt(dir, false);
  };

  const scenarios: ScenarioResult[] = [];
  const keys = new Map<string, string>();
  let boot: SandboxResult['boot'] = { healed: false, simulatedMs: 0, realMs: 0 };
  try {
    say(
      `provisioned ${plan.summary.create} resources into the simulator; master group ${names.masterGroup} (${topology.masters}, lifecycle hooks ${hookS} s), worker group ${names.workerGroup} (${workers.opts.desired}, lifecycle hooks ${(workers.opts.hookHeartbeatMs ?? 0) / 1000}/${(workers.opts.terminateHookHeartbeatMs ?? 0) / 1000} s), API target group, parameter ${`/tripod/${spec.name}/config`}`,
    );
    say(`masters boot; the reconciler seeds etcd, then adds each other master as a learner and promotes it`);
    // ---- boot ----
    const b = await until(
      () =>
        realNotConverged(cloud, real, 0) ??
        workersShort(workers) ??
        cloud.group.poolShort() ??
        cloud.dataPlaneBlocked(),
      opts.bootTimeoutRealMs ?? 90_000,
    );
    boot = {
      healed: b.healed,
      simulatedMs: b.simAt,
      realMs: b.realMs,
      ...(b.why ? { notHealed: b.why } : {}),
    };
    if (!b.healed) {
      say(`the cluster did not form: ${b.why}`);
      return await finish();
    }
    say(
      `cluster formed: ${topology.masters} voters, every master registered (${secs(b.simAt)} simulated, ${secs(b.realMs)} real)`,
    );
    for (let i = 1; i <= 5; i++) {
      const key = `/sandbox/key-${i}`;
      const value = `written before the faults #${i} (seed ${opts.seed})`;
      await real.put(key, value);
      keys.set(key, value);
    }
    say(`wrote ${keys.size} keys into etcd; each scenario must leave them readable`);

    let downZone: string | undefined;
    const liveMasters = () => [...cloud.group.members.values()].filter((m) => m.lifecycle === 'InService');
    const pickZone = (most: boolean) => {
      const up = cloud.zones.available();
      const count = (z: string) => liveMasters().filter((m) => m.zone === z).length;
      return [...up].sort(
        (a, b) => (most ? count(b) - count(a) : count(a) - count(b)) || a.localeCompare(b),
      )[0] as string;
    };
    const defs: Record<ScenarioName, Scenario> = {
      'lose-master': {
        inject() {
          const m = k.rng.pick(liveMasters());
          cloud.ec2.terminate(m.id);
          cloud.networkChanged();
          this.extra = () => (cloud.group.members.has(m.id) ? `${m.id} still in the group` : undefined);
          return `instance ${m.id} (${m.zone}) killed: its etcd process gets SIGKILL`;
        },
      },
      'lose-etcd': {
        inject() {
          const m = k.rng.pick(liveMasters());
          cloud.nodes.crashEtcd(m.id, true);
          this.extra = () => (cloud.group.members.has(m.id) ? `${m.id} still in the group` : undefined);
          return `etcd on ${m.id} (${m.zone}) crashes (SIGKILL) and cannot restart; the instance runs on`;
        },
      },
      'lose-worker': {
        inject() {
          const w = k.rng.pick([...workers.members.values()].filter((m) => m.lifecycle === 'InService'));
          cloud.ec2.terminate(w.id);
          this.extra = () =>
            workers.members.has(w.id) ? `worker ${w.id} still in its group` : workersShort(workers);
          return `worker ${w.id} (${w.zone}) killed: the worker group replaces it; its terminating hook waits for the reconciler's fallback after the drain deadline (no node is left to drain); etcd is not involved`;
        },
      },
      'lose-zone': {
        inject() {
          // With a warm pool, the zone its (first) instance sits in, among those with the most masters:
          // the pool instance there cannot start, the group must launch fresh elsewhere.
          const most = Math.max(
            ...cloud.zones.available().map((z) => liveMasters().filter((m) => m.zone === z).length),
          );
          const pooled = [...cloud.group.pool.values()].find(
            (p) => liveMasters().filter((m) => m.zone === p.zone).length === most && cloud.zones.isUp(p.zone),
          );
          const z = pooled?.zone ?? pickZone(true);
          downZone = z;
          if (pooled) {
            this.extra = () =>
              cloud.group.members.has(pooled.id)
                ? `the pool instance ${pooled.id} in the lost zone ${z} was taken into the group`
                : undefined;
            say(`the warm pool's ${pooled.id} sits in ${z} (${pooled.lifecycle}): it cannot start there`);
          }
          cloud.zones.fail(z, k.now());
          cloud.networkChanged();
          return `zone ${z} goes dark: every instance in it stops answering, its etcd processes get SIGKILL`;
        },
      },
      partition: {
        inject() {
          const z = pickZone(false);
          cloud.zones.partition(z);
          cloud.networkChanged();
          let healed = false;
          k.after(PARTITION_MS, () => {
            cloud.zones.heal(z);
            cloud.networkChanged();
            healed = true;
            k.log('fault', `partition of ${z} healed: its etcd processes get SIGCONT`);
          });
          const before = liveMasters().map((m) => m.id);
          this.extra = () => {
            if (!healed) return 'partition still on';
            const now = liveMasters().map((m) => m.id);
            return before.every((id) => now.includes(id)) ? undefined : 'a master was replaced';
          };
          return `zone ${z} partitioned for ${PARTITION_MS / 1000} s (simulated): its etcd processes get SIGSTOP (loopback cannot be partitioned without network namespaces, so they are frozen instead; the reconciler must wait, not replace)`;
        },
      },
      'zone-back': {
        inject() {
          const z = (downZone ?? cloud.zones.names.find((n) => !cloud.zones.isUp(n))) as string;
          cloud.zones.recover(z);
          cloud.networkChanged();
          downZone = undefined;
          this.extra = () => {
            const per = cloud.zones.names.map((n) => liveMasters().filter((m) => m.zone === n).length);
            return Math.min(...per) === 0 ? `a zone has no master yet (${per.join('/')})` : undefined;
          };
          return `zone ${z} comes back: the group rebalances (launches there first, then terminates the extra master)`;
        },
      },
      'lose-quorum': {
        timeoutRealMs: RESTORE_TIMEOUT_REAL_MS,
        async inject() {
          // The backup: a snapshot of the live cluster (etcd's snapshot stream) in the sandbox's bucket.
          const file = join(dir, 'backup.db');
          const snap = await real.snapshotTo(file);
          const key = snapshotKey(spec.name, k.now(), 0);
          real.snapshots.set(key, file);
          const M = topology.masters;
          const pool = [...liveMasters()];
          const victims: typeof pool = [];
          while (victims.length < Math.floor(M / 2) + 1 && pool.length > 0) {
            victims.push(...pool.splice(pool.indexOf(k.rng.pick(pool)), 1));
          }
          for (const v of victims) cloud.ec2.terminate(v.id);
          cloud.networkChanged();
          const stage = restoreDriver(key, snap, M);
          this.extra = stage;
          return `snapshot ${key} taken (${snap.bytes} bytes); then ${victims.length} of ${M} masters destroyed with their data (${victims.map((v) => v.id).join(', ')}): etcd loses quorum`;
        },
      },
    };

    /**
     * What an operator does after losing quorum, step by step as the reconciler's status allows it:
     * \`tripod restore\` (refused until the reconciler reports quorum lost long enough; records the
     * restore, protects the seed from scale-in, shrinks the group to 1), then, once the seed serves
     * the restored data, \`tripod restore --finish\` (grows the group back, lifts the protection).
     * The reconciler does the rest: lets the old masters go, has the seed restore, clears the
     * record, adds the new masters as learners one at a time.
     */
    function restoreDriver(key: string, snap: { bytes: number; sha256: string }, M: number) {
      let step: 'lost' | 'restoring' | 'growing' = 'lost';
      let record: RestoreRecord | undefined;
      const status = () => {
        const text = cloud.ssm.get(statusParameter(spec.name));
        return text === undefined ? undefined : parseStatus(text);
      };
      return (): string | undefined => {
        if (step === 'lost') {
          const refused = restoreRefusal(status(), k.now());
          if (refused) return `tripod restore refuses: ${refused}`;
          const plan = planRestore({
            cluster: spec.name,
            snapshots: [{ key, time: k.now(), revision: 0, size: snap.bytes, sha256: snap.sha256 }],
            expectedMasters: M,
            instances: [...cloud.group.members.values()].map((m) => ({
              instanceId: m.id,
              usable: m.lifecycle === 'InService',
              launchTime: m.launchTime,
            })),
          });
          record = {
            bucket: 'sandbox',
            key,
            sha256: snap.sha256,
            revision: 0,
            seedInstanceId: plan.seedInstanceId,
            expectedMasters: M,
            requestedAt: new Date(k.now()).toISOString(),
          };
          cloud.ssm.put(restoreParameter(spec.name), JSON.stringify(record));
          if (plan.seedInstanceId) cloud.group.setProtection(plan.seedInstanceId, true);
          cloud.group.opts.min = 1;
          cloud.group.opts.desired = 1;
          say(
            `tripod restore: quorum lost (the reconciler says so); restore ${key} recorded, seed ${plan.seedInstanceId ?? '(a new master)'} protected from scale-in, master group shrunk to 1`,
          );
          step = 'restoring';
          return 'restore recorded';
        }
        if (step === 'restoring') {
          const stage = restoreStage(status(), (record as RestoreRecord).requestedAt);
          if (stage !== 'serving') return `restore: ${stage}`;
          cloud.group.opts.min = M;
          cloud.group.opts.desired = M;
          const seed = status()?.memory.restore?.seedInstanceId;
          if (seed && cloud.group.members.has(seed)) cloud.group.setProtection(seed, false);
          say(
            `tripod restore --finish: the seed ${seed} serves the restored data; master group back to ${M}`,
          );
          step = 'growing';
          return 'growing back';
        }
        if (cloud.ssm.get(restoreParameter(spec.name)) !== undefined)
          return 'the restore record is not cleared yet';
        return undefined;
      };
    }

    for (const name of order) {
      const sc = defs[name];
      out('');
      say(`== scenario ${name}: ${SCENARIO_TITLES[name]}`);
      watch.resetMargin();
      const passesBefore = passes;
      const recBefore = reconcilerMs;
      const sim0 = k.clock.elapsed();
      k.log('fault', await sc.inject());
      const startedAt = Date.now();
      const r = await until(
        () =>
          sc.extra?.() ??
          realNotConverged(cloud, real, startedAt + 300) ??
          workersShort(workers) ??
          cloud.group.poolShort(),
        sc.timeoutRealMs ?? SCENARIO_TIMEOUT_REAL_MS,
      );
      let dataOk = true;
      const missing: string[] = [];
      for (const [key, value] of keys) {
        const got = await real.get(key).catch(() => undefined);
        if (got !== value) {
          dataOk = false;
          missing.push(key);
        }
      }
      const res: ScenarioResult = {
        name,
        title: SCENARIO_TITLES[name],
        healed: r.healed,
        ...(r.healed ? {} : { notHealed: r.why }),
        simulatedMs: r.simAt - sim0,
        realMs: r.realMs,
        reconcilerMs: reconcilerMs - recBefore,
        passes: passes - passesBefore,
        minQuorumMargin: watch.minMargin(),
        dataOk,
      };
      scenarios.push(res);
      say(
        r.healed
          ? `healed in ${secs(res.simulatedMs)} simulated, ${secs(res.realMs)} real (the reconciler's own time ${secs(res.reconcilerMs)} over ${res.passes} passes); lowest quorum margin ${res.minQuorumMargin}; ${dataOk ? `all ${keys.size} keys read back` : `keys NOT readable: ${missing.join(', ')}`}`
          : `NOT healed after ${secs(res.realMs)} real: ${r.why}`,
      );
      if (!r.healed) break;
    }
    return await finish();
  } catch (e) {
    await cleanup();
    throw e;
  }

  async function finish(): Promise<SandboxResult> {
    let keysOk = true;
    for (const [key, value] of keys) {
      const got = await real.get(key).catch(() => undefined);
      if (got !== value) keysOk = false;
    }
    await cleanup();
    // Give the kernel a moment to reap the children, then look for survivors.
    await new Promise((r) => setTimeout(r, 50));
    const leftoverPids = real.livePids().filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    if (leftoverPids.length > 0) killAllEtcd();
    const ok =
      boot.healed &&
      scenarios.length === order.length &&
      scenarios.every((s) => s.healed && s.dataOk) &&
      keysOk &&
      watch.violations.length === 0 &&
      leftoverPids.length === 0;
    return {
      ok,
      boot,
      scenarios,
      keysWritten: keys.size,
      keysOk,
      violations: watch.violations,
      leftoverPids,
      dir,
      timeline: events,
      plan,
    };
  }

  /** Runs the simulation in real time until `why()` stays undefined for 1 s (real), or the timeout. */
  async function until(
    why: () => string | undefined,
    timeoutRealMs: number,
  ): Promise<{ healed: boolean; realMs: number; simAt: number; why?: string }> {
    const t0 = performance.now();
    let okSince: number | undefined;
    let okSinceSim = 0;
    let last: string | undefined;
    const stop = () => {
      last = why();
      const now = performance.now();
      if (last !== undefined) okSince = undefined;
      else if (okSince === undefined) {
        okSince = now;
        okSinceSim = k.clock.elapsed();
      }
      return (okSince !== undefined && now - okSince >= 1000) || now - t0 > timeoutRealMs;
    };
    await k.runRealtime(Number.MAX_SAFE_INTEGER, speed, stop);
    const healed = last === undefined;
    return {
      healed,
      realMs: (okSince ?? performance.now()) - t0,
      simAt: healed ? okSinceSim : k.clock.elapsed(),
      ...(healed ? {} : { why: last }),
    };
  }
}

/**
 * The scenarios in the order they run: a zone must be lost before it can come back, so a
 * `zone-back` without a lost zone gets a `lose-zone` first, and a second `lose-zone` while one zone
 * is still down gets that zone back first (losing a second zone can lose quorum, as the plan warns).
 */
export function scenarioOrder(requested: readonly ScenarioName[]): ScenarioName[] {
  const out: ScenarioName[] = [];
  let down = false;
  for (const n of requested) {
    if (n === 'zone-back' && !down) out.push('lose-zone');
    if (n === 'lose-zone' && down) out.push('zone-back');
    out.push(n);
    if (n === 'lose-zone') down = true;
    if (n === 'zone-back') down = false;
  }
  return out;
}
function workersShort(workers: AutoScalingGroup): string | undefined {
  const inService = [...workers.members.values()].filter((m) => m.lifecycle === 'InService').length;
  return inService >= workers.opts.desired
    ? undefined
    : `${inService} of ${workers.opts.desired} workers InService`;
}
