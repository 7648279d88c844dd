/**
 * The plan as Markdown, for the job summary and the pull-request comment: the topology (table and
 * Mermaid diagram of zones, masters and load balancers), zone-loss survival, and the plan as a diff.
 */

import type { Topology } from '../cluster-spec/topology.js';
import { topologyMarkdown, topologyMermaid } from '../cluster-spec/topology-render.js';
import { mdCode, mdFence, mdText } from '../text/escape.js';
import type { PlanView } from './engine.js';

export interface PlanReportInput {
  topology: Topology;
  plan: PlanView;
  /** e.g. "cluster.yaml". */
  specPath: string;
  /** The commit the plan was made for, if known. */
  sha?: string | undefined;
  /** Heading verb: "Plan" on pull requests and drift checks, "Apply" after apply. */
  title?: string;
}

export function planHeadline(plan: PlanView): string {
  if (!plan.hasChanges) return '**No changes.** AWS already matches the spec.';
  const n = plan.changesCount;
  const destructive = plan.destructive.length
    ? ` **${plan.destructive.length} of them replace or delete resources** (apply needs \`allow-destructive: true\`).`
    : '';
  return `**${n} change${n === 1 ? '' : 's'}** to make AWS match the spec.${destructive}`;
}

export function planReport(r: PlanReportInput): string {
  const t = r.topology;
  const sha = r.sha ? ` at ${mdCode(r.sha.slice(0, 7))}` : '';
  const out = [
    `## tripod ${r.title ?? 'plan'}: ${mdCode(t.cluster)} in ${mdText(t.region)}`,
    '',
    `${planHeadline(r.plan)} (${mdCode(r.specPath)}${sha})`,
    '',
    '### Zone-loss survival',
    '',
    t.survivesAnyZoneLoss
      ? `:white_check_mark: The cluster keeps etcd quorum (${t.quorum} of ${t.masters}) when any one of its ${t.zones.length} zones is lost.`
      : `:warning: The cluster does **not** survive every zone loss: ${t.zones
          .filter((z) => !z.survivesLoss)
          .map(
            (z) =>
              `losing ${z.name} leaves ${z.mastersAfterLoss} of ${t.masters} masters (quorum ${t.quorum})`,
          )
          .join('; ')}.`,
    '',
    '### Topology',
    '',
    topologyMarkdown(t),
    '',
    mdFence(topologyMermaid(t), 'mermaid'),
    '',
    '### Changes',
    '',
  ];
  if (!r.plan.hasChanges) out.push('No changes.');
  else {
    out.push(mdFence(r.plan.diff.trimEnd(), 'diff'));
    if (r.plan.destructive.length) {
      out.push(
        '',
        '> [!CAUTION]',
        '> These changes replace or delete resources:',
        ...r.plan.destructive.map((d) => `> - ${mdText(d)}`),
      );
    }
  }
  if (r.plan.conflicts.length) {
    out.push(
      '',
      '> [!WARNING]',
      '> Resources in the way that tripod does not own (apply refuses until they are dealt with):',
      ...r.plan.conflicts.map((c) => `> - ${mdText(c)}`),
    );
  }
  out.push('');
  return out.join('\n');
}
