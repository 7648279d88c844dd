/** A plan as text (terminal, `+ ~ -/+ -` like terraform), Markdown (GitHub comments) and JSON. */
import { mdCode, mdFence, mdText, oneLine } from '../text/escape.js';
import type { ChangeAction, Plan, PlannedChange } from './plan.js';

const SYMBOL: Record<ChangeAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-' };

/** A value on one line: strings as they are unless they hold control characters (then escaped). */
const show = (v: unknown): string => {
  if (v === undefined) return '(none)';
  if (typeof v === 'string') return oneLine(v);
  return oneLine(JSON.stringify(v));
};

export function summaryLine(plan: Plan): string {
  if (!plan.hasChanges) {
    return plan.mode === 'destroy'
      ? `No changes: cluster ${plan.cluster} has nothing left in ${plan.region}.`
      : `No changes: cluster ${plan.cluster} in ${plan.region} matches the spec.`;
  }
  const s = plan.summary;
  return `Plan for cluster ${plan.cluster} (${plan.region}): ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete.`;
}

/** One line per change, then its field changes indented. */
export function changeLines(c: PlannedChange): string[] {
  const head = `${SYMBOL[c.action].padStart(3)} ${oneLine(c.title)}${c.id ? ` (${oneLine(c.id)})` : ''}${c.reason ? `: ${oneLine(c.reason)}` : ''}`;
  const fields = c.changes.map((f) => `        ${oneLine(f.field)}: ${show(f.before)} -> ${show(f.after)}`);
  const warn = c.destructive ? [`        !! destructive: ${oneLine(c.destructive)}`] : [];
  return [head, ...fields, ...warn];
}

/**
 * The plan as a diff, grouped by step: `+` create, `-` delete, `!` update or replace in the first
 * column (GitHub's diff highlighting keys on it), the details indented below.
 */
export function planDiffLines(plan: Plan): string[] {
  const lines: string[] = [];
  for (const [group, changes] of grouped(plan)) {
    lines.push(`# ${group}`);
    for (const c of changes) {
      const sym = c.action === 'create' ? '+' : c.action === 'delete' ? '-' : '!';
      // changeLines pads its symbol to 3 columns (`  +`, `-/+`): replace the padding by the diff mark.
      lines.push(
        ...changeLines(c).map((l, i) =>
          i === 0 ? `${sym}${l.slice(3)}` : `${sym === '!' ? '!' : ' '}${l.slice(1)}`,
        ),
      );
    }
  }
  return lines;
}

function grouped(plan: Plan): Array<[string, PlannedChange[]]> {
  const out: Array<[string, PlannedChange[]]> = [];
  for (const c of plan.changes) {
    const last = out.at(-1);
    if (last && last[0] === c.group) last[1].push(c);
    else out.push([c.group, [c]]);
  }
  return out;
}

export function renderPlanText(plan: Plan): string {
  const lines: string[] = [summaryLine(plan)];
  for (const [group, changes] of grouped(plan)) {
    lines.push('', `${group}:`);
    for (const c of changes) lines.push(...changeLines(c));
  }
  if (plan.destructive.length) {
    lines.push('', 'Destructive changes (apply refuses them without --allow-destructive):');
    lines.push(...plan.destructive.map((d) => `  - ${oneLine(d)}`));
  }
  if (plan.conflicts.length) {
    lines.push('', 'Conflicts (apply refuses until they are resolved):');
    lines.push(...plan.conflicts.map((d) => `  - ${oneLine(d)}`));
  }
  if (plan.warnings.length) {
    lines.push('', 'Warnings:');
    lines.push(...plan.warnings.map((w) => `  - ${oneLine(w)}`));
  }
  return lines.join('\n');
}

export function renderPlanMarkdown(plan: Plan): string {
  const s = plan.summary;
  const lines: string[] = [`### tripod plan: ${mdCode(plan.cluster)} (${mdText(plan.region)})`, ''];
  if (!plan.hasChanges) lines.push(`**${mdText(summaryLine(plan))}**`);
  else {
    lines.push(
      '| create | update | replace | delete |',
      '|---|---|---|---|',
      `| ${s.create} | ${s.update} | ${s.replace} | ${s.delete} |`,
    );
  }
  if (plan.destructive.length) {
    lines.push(
      '',
      '> [!CAUTION]',
      '> **Destructive changes**: apply refuses them without `allow-destructive`.',
    );
    lines.push(...plan.destructive.map((d) => `> - ${mdText(d)}`));
  }
  if (plan.conflicts.length) {
    lines.push('', '> [!WARNING]', '> **Conflicts**: apply refuses until they are resolved.');
    lines.push(...plan.conflicts.map((d) => `> - ${mdText(d)}`));
  }
  if (plan.warnings.length) {
    lines.push('', '> [!WARNING]');
    lines.push(...plan.warnings.map((w) => `> ${mdText(w)}`));
  }
  if (plan.hasChanges) {
    lines.push('', '<details open><summary>Changes</summary>', '');
    lines.push(mdFence(planDiffLines(plan).join('\n'), 'diff'));
    lines.push('', '</details>');
  }
  return lines.join('\n');
}

export function renderPlanJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2);
}

export function renderPlan(plan: Plan, format: 'text' | 'markdown' | 'json'): string {
  if (format === 'json') return renderPlanJson(plan);
  if (format === 'markdown') return renderPlanMarkdown(plan);
  return renderPlanText(plan);
}
