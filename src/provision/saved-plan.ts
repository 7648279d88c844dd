/**
 * Saved plans (like Terraform's): on a pull request `plan` saves what it would do, with a hash of the
 * spec and of what it read from AWS; on the default branch `apply` plans again and compares its fresh
 * plan with the approved one. They must propose the same changes from the same spec, or apply refuses
 * and shows the difference (unless plan drift is allowed). Pure: no I/O but the caller's.
 *
 * What is compared: the spec hash and the changes (action, resource, id, every field's before and
 * after, replace reasons, destructive flags) and the conflicts. What it read (the observed hash) is
 * recorded and reported but does not refuse by itself: the reconciler replaces instances and updates
 * its status all the time, so AWS rarely reads the same twice; it matters when it changes the plan,
 * and then the changes differ.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ClusterSpec } from '../cluster-spec/schema.js';
import type { Plan, PlannedChange } from './plan.js';
import { changeLines } from './plan-render.js';
import type { Found } from './resource.js';

export const SAVED_PLAN_FORMAT = 'tripod-plan/1';

export interface SavedPlan {
  format: typeof SAVED_PLAN_FORMAT;
  cluster: string;
  region: string;
  /** ISO time the plan was made. */
  createdAt: string;
  /** The commit the spec came from, when known (GITHUB_SHA or the pull request's head). */
  commit?: string;
  /** sha256 of the validated spec (canonical JSON: formatting and comments do not count). */
  specHash: string;
  /** sha256 of what plan read from AWS (every resource found, canonical JSON). */
  observedHash: string;
  plan: Plan;
}

/** JSON with object keys sorted, Maps as sorted objects, Sets as sorted arrays: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? String(v) : v;
    if (v instanceof Date) return v.toISOString();
    if (v instanceof Map) return norm(Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), x])));
    if (v instanceof Set)
      return [...v].map(norm).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
    if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    if (Array.isArray(v)) return v.map(norm);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined && typeof x !== 'function') out[k] = norm(x);
    }
    return out;
  };
  return JSON.stringify(norm(value));
}

export const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

export const specHash = (spec: ClusterSpec) => sha256(canonicalJson(spec));

/** What plan read: every resource found (owned or in the way), in key order. */
export function observedHash(found: ReadonlyMap<string, Found> | Iterable<Found>): string {
  const list = [...(found instanceof Map ? found.values() : (found as Iterable<Found>))]
    .map((f) => ({ key: f.key, kind: f.kind, id: f.id, owned: f.owned, attrs: f.attrs, actual: f.actual }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return sha256(canonicalJson(list));
}

export function savePlan(
  spec: ClusterSpec,
  state: { plan: Plan; found: ReadonlyMap<string, Found> },
  meta: { commit?: string | undefined; now?: Date } = {},
): SavedPlan {
  return {
    format: SAVED_PLAN_FORMAT,
    cluster: spec.name,
    region: spec.region,
    createdAt: (meta.now ?? new Date()).toISOString(),
    ...(meta.commit ? { commit: meta.commit } : {}),
    specHash: specHash(spec),
    observedHash: observedHash(state.found),
    // a plain JSON copy: what is written is what is compared
    plan: JSON.parse(canonicalJson(state.plan)) as Plan,
  };
}

export const savedPlanText = (saved: SavedPlan) => `${JSON.stringify(saved, null, 2)}\n`;

const changeSchema = z.looseObject({
  action: z.enum(['create', 'update', 'replace', 'delete']),
  key: z.string(),
  kind: z.string(),
  group: z.string(),
  title: z.string(),
  id: z.string().optional(),
  changes: z.array(z.looseObject({ field: z.string(), before: z.unknown(), after: z.unknown() })),
  reason: z.string().optional(),
  destructive: z.string().optional(),
});
const hashSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>');
const savedSchema = z.object({
  format: z.literal(SAVED_PLAN_FORMAT),
  cluster: z.string().min(1),
  region: z.string().min(1),
  createdAt: z.string(),
  commit: z.string().optional(),
  specHash: hashSchema,
  observedHash: hashSchema,
  plan: z.looseObject({
    cluster: z.string(),
    region: z.string(),
    mode: z.enum(['apply', 'destroy']),
    changes: z.array(changeSchema),
    hasChanges: z.boolean(),
    destructive: z.array(z.string()),
    conflicts: z.array(z.string()),
  }),
});

export class SavedPlanError extends Error {
  override name = 'SavedPlanError';
}

/** Reads a saved plan; a wrong file is an error naming the file and the field. */
export function parseSavedPlan(text: string, file: string): SavedPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SavedPlanError(`${file}: not a saved tripod plan (not JSON: ${(e as Error).message})`);
  }
  const r = savedSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.length ? issue.path.join('.') : '(top level)';
    throw new SavedPlanError(
      `${file}: not a saved tripod plan (${SAVED_PLAN_FORMAT}) at ${at}: ${issue.message}; make it with tripod plan --out, or take the plan-file of the Action's plan step`,
    );
  }
  return r.data as unknown as SavedPlan;
}

export interface PlanComparison {
  /** Same spec and the same changes and conflicts: apply may go ahead. */
  same: boolean;
  /** Human lines saying what differs (empty when same). */
  differences: string[];
  /** AWS read differently (reported; refuses only through the changes). */
  observedChanged: boolean;
}

const changeId = (c: PlannedChange) => `${c.action} ${c.key}`;

/** Compares the approved plan with a fresh one for the same cluster. */
export function comparePlans(approved: SavedPlan, fresh: SavedPlan): PlanComparison {
  const out: string[] = [];
  if (approved.cluster !== fresh.cluster || approved.region !== fresh.region)
    out.push(
      `the approved plan is for cluster ${approved.cluster} in ${approved.region}, this is ${fresh.cluster} in ${fresh.region}`,
    );
  if (approved.specHash !== fresh.specHash)
    out.push(
      `the spec is not the reviewed one: ${approved.specHash.slice(0, 19)}... reviewed${approved.commit ? ` (commit ${approved.commit.slice(0, 12)})` : ''}, ${fresh.specHash.slice(0, 19)}... now${fresh.commit ? ` (commit ${fresh.commit.slice(0, 12)})` : ''}`,
    );
  const before = new Map(approved.plan.changes.map((c) => [changeId(c), c]));
  const now = new Map(fresh.plan.changes.map((c) => [changeId(c), c]));
  const indent = (lines: string[]) => lines.map((l) => `    ${l}`);
  for (const [id, c] of before) {
    const n = now.get(id);
    if (!n) out.push('reviewed, no longer planned:', ...indent(changeLines(c)));
    else if (canonicalJson(c) !== canonicalJson(n))
      out.push(
        'changed since the review; reviewed:',
        ...indent(changeLines(c)),
        '  now:',
        ...indent(changeLines(n)),
      );
  }
  for (const [id, n] of now)
    if (!before.has(id)) out.push('not in the reviewed plan:', ...indent(changeLines(n)));
  if (
    out.length === 0 &&
    canonicalJson(approved.plan.changes.map(changeId)) !== canonicalJson(fresh.plan.changes.map(changeId))
  )
    out.push('the same changes in another order');
  const gone = approved.plan.conflicts.filter((c) => !fresh.plan.conflicts.includes(c));
  const added = fresh.plan.conflicts.filter((c) => !approved.plan.conflicts.includes(c));
  for (const c of gone) out.push(`reviewed conflict, gone now: ${c}`);
  for (const c of added) out.push(`new conflict: ${c}`);
  return {
    same: out.length === 0,
    differences: out,
    observedChanged: approved.observedHash !== fresh.observedHash,
  };
}

/**
 * The verdict apply acts on: undefined when it may go ahead (with a note), else the refusal. Shared by
 * the Action (approved-plan, allow-plan-drift) and the CLI (--plan, --allow-plan-drift).
 */
export function approvedPlanCheck(
  approved: SavedPlan,
  fresh: SavedPlan,
  options: { allowDrift: boolean; file: string },
): { ok: boolean; message: string; differences: string[] } {
  const cmp = comparePlans(approved, fresh);
  const reviewed = `${options.file} (made ${approved.createdAt}${approved.commit ? ` at commit ${approved.commit.slice(0, 12)}` : ''})`;
  // Nothing to apply cannot apply anything unreviewed: a re-run after the approved changes went in
  // (an upgrade that timed out while rolling) goes on to what follows the apply.
  if (!cmp.same && !fresh.plan.hasChanges && fresh.plan.conflicts.length === 0)
    return {
      ok: true,
      differences: [],
      message: `nothing left to apply: the changes of the approved plan ${reviewed} are in place, or no longer needed`,
    };
  if (cmp.same)
    return {
      ok: true,
      differences: [],
      message: `the plan is the approved one, ${reviewed}${cmp.observedChanged ? '; AWS reads differently since, without changing what is to be done' : ''}`,
    };
  if (options.allowDrift)
    return {
      ok: true,
      differences: cmp.differences,
      message: `the plan differs from the approved one, ${reviewed}; applying anyway (plan drift allowed)`,
    };
  return {
    ok: false,
    differences: cmp.differences,
    message: `apply refused: the plan differs from the approved one, ${reviewed}. Nothing was changed. Review the new plan (a new pull request, or plan again), or allow plan drift for this run.`,
  };
}
