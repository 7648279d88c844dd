/**
 * The seam between the action and tripod's core: what each command needs from the provisioner
 * (plan, apply, destroy, endpoints) and from the reconciler's published state (status). main.ts
 * builds the real one over AWS (engine-aws.ts); nothing else in src/action talks to AWS.
 */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import type { SavedPlan } from '../provision/saved-plan.js';
import type { UpgradeOutcome } from '../upgrade/run.js';

/** A plan as the action shows and reports it. */
export interface PlanView {
  hasChanges: boolean;
  changesCount: number;
  /** Changes that replace or delete something (apply refuses them without allow-destructive). */
  destructive: string[];
  /** Resources in the way that tripod does not own: apply refuses until they are dealt with. */
  conflicts: string[];
  /** The plan as a diff (`+ create`, `~ update`, `- delete`), one line per change. */
  diff: string;
  /** Plain-text rendering for the log. */
  text: string;
  /** The JSON value for the plan-json output. */
  json: unknown;
  /** The plan to save and compare (with the spec's and what-it-read hashes); the AWS engine always sets it. */
  saved?: SavedPlan;
}

export interface Endpoints {
  api: string | undefined;
  service: string | undefined;
}

/** One line of apply/destroy progress: which step, and what happened. */
export interface ProgressEvent {
  /** A group heading (one per resource kind, e.g. "network", "masters"). */
  group: string;
  message: string;
}

export interface ApplyOptions {
  allowDestructive: boolean;
  signal: AbortSignal;
  onProgress(e: ProgressEvent): void;
  /** Epoch ms: waits on lingering dependencies end by then (destroy says to run it again). */
  deadline?: number;
}

export interface ClusterStatus {
  cluster: string;
  region: string;
  expectedMasters: number;
  quorum: number;
  /** Zone -> master instances there (the master group's, not its warm pool's). */
  mastersPerZone: Record<string, number>;
  /** Zone -> warm pool instances there (`masters.warmPool`: prepared, not masters); absent without any. */
  warmPoolPerZone?: Record<string, number>;
  /** What could not be read (e.g. the warm pool, when the cluster stack does not allow it yet). */
  readWarnings?: string[];
  instances: Array<{ instanceId: string; zone: string; lifecycleState: string; health: string }>;
  targets: Array<{ instanceId: string; health: string }>;
  /** From the reconciler's status document; undefined when none was published yet. */
  etcd:
    | {
        members: Array<{ id: string; name: string; isLearner: boolean; healthy: boolean; leader: boolean }>;
        healthyVoters: number;
      }
    | undefined;
  lastReconcile: { at: string; result: string; detail?: string } | undefined;
  /** Present when the reconciler published nothing at /tripod/<cluster>/status. */
  missingStatusDocument?: string;
  /** When the reconciler published its status document (ISO): the etcd facts are that old. */
  statusAt?: string;
  /** The reconciler's last actions with their outcomes, most recent last (from its status document). */
  recentActions?: Array<{ at: string; action: string; outcome: string; detail?: string }>;
  /** The newest completed etcd snapshot in the backup bucket; null: none; undefined: not read. */
  lastBackup?: { time: string; key: string; revision: number } | null;
  /** Why the last backup could not be read (no bucket configured, access denied, ...). */
  lastBackupUnknown?: string;
}

export interface UpgradeOptions {
  /** The upgrade's own bound: it stops between two looks, leaving the rest for a re-run. */
  timeoutMs: number;
  /** Roll the upgrade in progress back instead (the `abort` input). */
  abort?: boolean;
  signal: AbortSignal;
  onProgress(line: string): void;
}

export interface Engine {
  plan(spec: ClusterSpec): Promise<PlanView>;
  apply(spec: ClusterSpec, plan: PlanView, options: ApplyOptions): Promise<void>;
  destroy(spec: ClusterSpec, options: Omit<ApplyOptions, 'allowDestructive'>): Promise<void>;
  /** Rolls masters (one at a time) then workers onto the launch templates apply wrote. */
  upgrade(spec: ClusterSpec, options: UpgradeOptions): Promise<UpgradeOutcome>;
  endpoints(spec: ClusterSpec): Promise<Endpoints>;
  status(spec: ClusterSpec): Promise<ClusterStatus>;
  /** Fails with a clear message when the default AWS credential chain finds nothing. */
  checkCredentials(): Promise<void>;
  /** AWS API calls made so far (for the log: what a plan or apply cost). */
  apiCalls(): number;
  close(): void;
}
