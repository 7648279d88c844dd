/** Topology as a terminal table, a Mermaid diagram, Markdown, or a JSON value. */
import type { Topology } from './topology.js';

export function topologyJson(t: Topology) {
  return {
    cluster: t.cluster,
    region: t.region,
    masters: t.masters,
    quorum: t.quorum,
    faultTolerance: t.faultTolerance,
    survivesAnyZoneLoss: t.survivesAnyZoneLoss,
    zones: t.zones.map((z) => ({ name: z.name, masters: z.masters, survivesLoss: z.survivesLoss })),
    warnings: t.warnings,
  };
}

export function topologyTable(t: Topology): string {
  const header = ['zone', 'masters', 'masters if lost', 'survives its loss'];
  const rows = t.zones.map((z) => [
    z.name,
    String(z.masters),
    String(z.mastersAfterLoss),
    z.survivesLoss ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const out = [
    `cluster ${t.cluster} in ${t.region}: ${t.masters} masters, quorum ${t.quorum}, tolerates ${t.faultTolerance} master failure${t.faultTolerance === 1 ? '' : 's'}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    t.survivesAnyZoneLoss
      ? 'Survives the loss of any one zone.'
      : 'WARNING: does NOT survive the loss of every zone.',
    ...t.warnings.map((w) => `WARNING: ${w}`),
  ];
  return out.join('\n');
}

export function topologyMarkdown(t: Topology): string {
  const rows = t.zones.map(
    (z) => `| ${z.name} | ${z.masters} | ${z.mastersAfterLoss} | ${z.survivesLoss ? 'yes' : '**NO**'} |`,
  );
  return [
    `**${t.masters} masters, quorum ${t.quorum}**, tolerating ${t.faultTolerance} master failure${t.faultTolerance === 1 ? '' : 's'}.`,
    '',
    '| zone | masters | masters if lost | survives its loss |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...(t.survivesAnyZoneLoss ? ['Survives the loss of any one zone.'] : []),
    // One alert block with a paragraph per warning: GitHub merges consecutive quotes and would
    // show a second [!WARNING] as plain text.
    ...(t.warnings.length || !t.survivesAnyZoneLoss
      ? [
          '> [!WARNING]',
          ...[
            ...(t.survivesAnyZoneLoss ? [] : ['This cluster does **not** survive a zone loss.']),
            ...t.warnings,
          ]
            .map((w) => `> ${w}`)
            .flatMap((line, i) => (i === 0 ? [line] : ['>', line])),
        ]
      : []),
  ]
    .join('\n')
    .trimEnd();
}

export function topologyMermaid(t: Topology): string {
  const id = (s: string) => s.replace(/[^a-zA-Z0-9]/g, '_');
  const lines = ['flowchart TB', `  api(["API load balancer :6443"])`, `  svc(["service load balancer"])`];
  for (const z of t.zones) {
    lines.push(`  subgraph ${id(z.name)}["${z.name}${z.survivesLoss ? '' : ' (loss NOT survivable)'}"]`);
    if (z.masters === 0) lines.push(`    ${id(z.name)}_none["no master"]`);
    for (let i = 1; i <= z.masters; i++)
      lines.push(`    ${id(z.name)}_m${i}[("master ${i}: etcd + control plane")]`);
    lines.push(`    ${id(z.name)}_w["workers"]`);
    lines.push('  end');
  }
  for (const z of t.zones) {
    for (let i = 1; i <= z.masters; i++) lines.push(`  api --> ${id(z.name)}_m${i}`);
    lines.push(`  svc --> ${id(z.name)}_w`);
  }
  return lines.join('\n');
}
