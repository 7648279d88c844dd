/**
 * Preflight (pure), as Cluster API's KubeadmControlPlane does before a rollout: refuse to start
 * unless every etcd member is a healthy started voter on an InService master, no lifecycle action is
 * pending, the cluster survives the loss of any zone (when it has 3 or more), and the Kubernetes
 * version step is a patch or one minor up (no skipped minor, no downgrade). Every refusal says why.
 */
import { WAIT, type WaitReason } from '../heal/phases/pass.js';
import { quorumOf } from '../heal/quorum.js';
import type { StatusDocument } from '../heal/status.js';
import type { GroupView } from './model.js';

export interface PreflightCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface PreflightResult {
  ok: boolean;
  checks: PreflightCheck[];
  /** The failed checks' details (what to fix). */
  reasons: string[];
  warnings: string[];
}

export interface PreflightInput {
  now: number;
  masters: GroupView;
  workers: GroupView | undefined;
  status: StatusDocument | undefined;
  expectedMasters: number;
  zones: readonly string[];
  /** Version running now (undefined: unknown). */
  fromVersion: string | undefined;
  toVersion: string;
  /** The status document must be newer than this (the reconciler publishes every minute). */
  maxStatusAgeMs?: number;
}

interface Version {
  major: number;
  minor: number;
  patch: number;
}

export function parseVersion(v: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** undefined when the step from -> to is allowed (same, patch, or one minor up), else why not. */
export function versionStepProblem(from: string, to: string): string | undefined {
  const a = parseVersion(from);
  const b = parseVersion(to);
  if (!a) return `running version "${from}" is not a Kubernetes version like 1.32.4`;
  if (!b) return `target version "${to}" is not a Kubernetes version like 1.32.4`;
  if (a.major !== b.major) return `${from} -> ${to} changes the major version: not supported`;
  const cmp = b.minor - a.minor || b.patch - a.patch;
  if (cmp < 0) return `${from} -> ${to} is a downgrade: refused (kubeadm cannot downgrade a control plane)`;
  if (b.minor > a.minor + 1) {
    const skipped = Array.from({ length: b.minor - a.minor - 1 }, (_, i) => `${a.major}.${a.minor + 1 + i}`);
    return `${from} -> ${to} skips Kubernetes ${skipped.join(', ')}: upgrade one minor version at a time (to ${a.major}.${a.minor + 1}.x first)`;
  }
  return undefined;
}

/** Waits of the reconciler that mean a repair is under way or blocked (phases/pass.ts WAIT). */
const REPAIR_WAITS: ReadonlySet<WaitReason> = new Set<WaitReason>([
  WAIT.quorum,
  WAIT.noLeader,
  WAIT.noSuccessor,
  WAIT.memberVotes,
  WAIT.replacing,
  WAIT.quorumLost,
  WAIT.replacementLimit,
  WAIT.databaseFull,
  WAIT.restore,
  WAIT.etcdUnreachable,
]);

const PENDING_STATES = new Set([
  'Pending',
  'Pending:Wait',
  'Pending:Proceed',
  'Terminating',
  'Terminating:Wait',
  'Terminating:Proceed',
]);

export function preflight(input: PreflightInput): PreflightResult {
  const checks: PreflightCheck[] = [];
  const warnings: string[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const { status, masters } = input;
  const M = input.expectedMasters;

  // Kubernetes version step.
  if (input.fromVersion === undefined) {
    warnings.push(
      `the running Kubernetes version is unknown (no upgrade record, no tripod:kubernetes-version tag): the minor-version step to ${input.toVersion} is not checked`,
    );
  } else {
    const problem = versionStepProblem(input.fromVersion, input.toVersion);
    check('version step', problem === undefined, problem ?? `${input.fromVersion} -> ${input.toVersion}`);
  }

  // Lifecycle actions.
  const busy = [...masters.instances, ...(input.workers?.instances ?? [])].filter((i) =>
    PENDING_STATES.has(i.lifecycleState),
  );
  check(
    'no lifecycle action pending',
    busy.length === 0,
    busy.length === 0
      ? 'every instance is InService'
      : `${busy.map((i) => `${i.instanceId} is ${i.lifecycleState}`).join(', ')}: wait until the reconciler has finished`,
  );

  // etcd membership, from the reconciler's status document.
  const maxAge = input.maxStatusAgeMs ?? 5 * 60_000;
  if (!status) {
    check(
      'etcd members healthy',
      false,
      'the reconciler has published no status document: etcd health is unknown',
    );
  } else {
    const age = input.now - Date.parse(status.at);
    const fresh = Number.isFinite(age) && age <= maxAge;
    check(
      'reconciler status fresh',
      fresh,
      fresh
        ? `published ${Math.max(0, Math.round(age / 1000))} s ago`
        : `the reconciler's status is ${Math.round(age / 60_000)} min old (at ${status.at}): is the reconciler running?`,
    );
    const inService = new Map(
      masters.instances.filter((i) => i.lifecycleState === 'InService').map((i) => [i.instanceId, i]),
    );
    const bad: string[] = [];
    if (!status.conditions.etcdReachable) bad.push('etcd is unreachable');
    for (const m of status.members) {
      const label = `${m.id} (${m.name || 'unnamed'})`;
      if (m.learner) bad.push(`${label} is a learner`);
      else if (!m.name) bad.push(`${label} has not started`);
      else if (!m.healthy) bad.push(`${label} is unhealthy`);
      else if (!inService.has(m.name)) bad.push(`${label} is not on an InService master`);
    }
    if (status.conditions.etcdReachable && status.conditions.leaderId === undefined) {
      bad.push('etcd has no leader a majority of the voters agrees on');
    }
    const voters = status.members.filter((m) => !m.learner).length;
    if (voters !== M) bad.push(`${voters} voters, the spec wants ${M}`);
    check(
      'etcd members healthy',
      bad.length === 0,
      bad.length === 0 ? `${voters} healthy started voters, quorum ${quorumOf(voters)}` : bad.join('; '),
    );

    // The reconciler's hold rules: a repair waiting on quorum, a replacement, a full database, a
    // restore... Rolling masters now would take away the margin that repair needs.
    const repairing = (status.blocked ?? []).filter((r) => REPAIR_WAITS.has(r));
    check(
      'no repair in progress',
      repairing.length === 0,
      repairing.length === 0
        ? 'the reconciler waits on no repair'
        : `the reconciler waits on: ${repairing.join(', ')} (${status.waits.slice(0, 3).join('; ')}): wait until it has healed`,
    );

    // Zone-loss survival: healthy voters outside any one zone still make quorum.
    const zoneOf = new Map(masters.instances.map((i) => [i.instanceId, i.zone]));
    const healthy = status.members.filter((m) => !m.learner && m.healthy);
    const q = quorumOf(Math.max(voters, M));
    if (input.zones.length < 3) {
      warnings.push(
        `${input.zones.length} zone(s): a zone loss is not survivable, before or during the upgrade`,
      );
    } else {
      const losing = input.zones.filter((z) => healthy.filter((m) => zoneOf.get(m.name) !== z).length < q);
      check(
        'survives a zone loss',
        losing.length === 0,
        losing.length === 0
          ? `losing any one zone leaves quorum (${q})`
          : `losing ${losing.join(' or ')} would lose quorum (${q} of ${voters} needed): wait for the masters to spread over the zones`,
      );
    }
  }
  const failed = checks.filter((c) => !c.ok);
  return { ok: failed.length === 0, checks, reasons: failed.map((c) => `${c.name}: ${c.detail}`), warnings };
}
