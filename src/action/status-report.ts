/**
 * Status: what AWS and the reconciler's status document say, judged against the spec's topology.
 * Pure: `assessStatus` decides pass/fail, `statusReport` renders Markdown.
 */
import { quorumOf, type Topology } from '../cluster-spec/topology.js';
import { isWarm } from '../heal/roster.js';
import { mdCell, mdCode, mdText } from '../text/escape.js';
import type { ClusterStatus } from './engine.js';

export interface StatusAssessment {
  /** Each one fails the step. */
  problems: string[];
  warnings: string[];
  /** Healthy voting members counted (etcd when known, else healthy in-service masters). */
  healthyVoters: number;
  /** Per zone: healthy voters there and whether quorum survives losing it now. */
  zones: Array<{ zone: string; healthyVoters: number; survivesLoss: boolean }>;
}

/**
 * Per zone of the spec (and any other zone an instance is in): the master group's instances, and
 * apart from them its warm pool's (Warmed:*: prepared instances that are no masters until the group
 * takes one). Pool counts only when there is one.
 */
export function countPerZone(
  zones: readonly string[],
  instances: ReadonlyArray<{ zone: string; lifecycleState: string }>,
): Pick<ClusterStatus, 'mastersPerZone' | 'warmPoolPerZone'> {
  const masters: Record<string, number> = Object.fromEntries(zones.map((z) => [z, 0]));
  const pool: Record<string, number> = Object.fromEntries(zones.map((z) => [z, 0]));
  let pooled = 0;
  for (const i of instances) {
    const warm = isWarm(i);
    if (warm) pooled++;
    const into = warm ? pool : masters;
    into[i.zone] = (into[i.zone] ?? 0) + 1;
  }
  return { mastersPerZone: masters, ...(pooled > 0 ? { warmPoolPerZone: pool } : {}) };
}

export function assessStatus(s: ClusterStatus, t: Topology): StatusAssessment {
  const problems: string[] = [];
  const warnings: string[] = [];
  const quorum = quorumOf(s.expectedMasters);

  const healthyInService = s.instances.filter(
    (i) => i.lifecycleState === 'InService' && i.health === 'Healthy',
  );
  const healthyIds = new Set(healthyInService.map((i) => i.instanceId));
  // etcd names members after their instance: a voter counts where its instance lives.
  const zoneOf = new Map(s.instances.map((i) => [i.instanceId, i.zone]));
  let healthyVoterIds: string[];
  if (s.etcd) {
    healthyVoterIds = s.etcd.members.filter((m) => m.healthy && !m.isLearner).map((m) => m.name);
  } else {
    healthyVoterIds = [...healthyIds];
    warnings.push(
      s.missingStatusDocument ??
        'the reconciler has not published a status document yet: etcd membership is unknown, counting healthy masters instead',
    );
  }
  const healthyVoters = healthyVoterIds.length;

  if (healthyVoters < quorum) {
    problems.push(
      `etcd quorum is LOST: ${healthyVoters} healthy voting member${healthyVoters === 1 ? '' : 's'} of ${s.expectedMasters}, quorum is ${quorum}`,
    );
  }

  const zoneNames = t.zones.map((z) => z.name);
  const zones = zoneNames.map((zone) => {
    const here = healthyVoterIds.filter((id) => zoneOf.get(id) === zone).length;
    return { zone, healthyVoters: here, survivesLoss: healthyVoters - here >= quorum };
  });
  if (healthyVoters >= quorum) {
    const fragile = zones.filter((z) => !z.survivesLoss);
    if (fragile.length && t.survivesAnyZoneLoss) {
      problems.push(
        `zone-loss survival is LOST: ${fragile
          .map(
            (z) =>
              `losing ${z.zone} would leave ${healthyVoters - z.healthyVoters} healthy voters, below quorum ${quorum}`,
          )
          .join('; ')}`,
      );
    } else if (fragile.length) {
      warnings.push(
        `by its spec this cluster does not survive a zone loss (${fragile.map((z) => z.zone).join(', ')})`,
      );
    }
  }

  warnings.push(...(s.readWarnings ?? []));
  const unhealthyTargets = s.targets.filter((x) => x.health !== 'healthy');
  if (unhealthyTargets.length)
    warnings.push(
      `API target group: ${unhealthyTargets.map((x) => `${x.instanceId} ${x.health}`).join(', ')}`,
    );
  if (s.lastReconcile && !/^(ok|success|succeeded|healthy|converged|noop)\b/i.test(s.lastReconcile.result))
    warnings.push(`last reconcile (${s.lastReconcile.at}): ${s.lastReconcile.result}`);
  return { problems, warnings, healthyVoters, zones };
}

export function statusReport(s: ClusterStatus, a: StatusAssessment): string {
  const ok = a.problems.length === 0;
  const out = [
    `## tripod status: ${mdCode(s.cluster)} in ${mdText(s.region)}`,
    '',
    ok
      ? `:white_check_mark: **Healthy**: ${a.healthyVoters} of ${s.expectedMasters} etcd voters healthy (quorum ${s.quorum}).`
      : `:x: **${mdText(a.problems.join('. '))}.**`,
    '',
    '### Masters per zone',
    '',
    `| zone | masters | healthy etcd voters | survives its loss now |${s.warmPoolPerZone ? ' warm pool |' : ''}`,
    `|---|---|---|---|${s.warmPoolPerZone ? '---|' : ''}`,
    ...a.zones.map(
      (z) =>
        `| ${mdCell(z.zone)} | ${s.mastersPerZone[z.zone] ?? 0} | ${z.healthyVoters} | ${z.survivesLoss ? 'yes' : '**NO**'} |${s.warmPoolPerZone ? ` ${s.warmPoolPerZone[z.zone] ?? 0} |` : ''}`,
    ),
    '',
    '### Instances',
    '',
    '| instance | zone | lifecycle | health | API target |',
    '|---|---|---|---|---|',
    ...s.instances.map(
      (i) =>
        `| ${mdCell(i.instanceId)} | ${mdCell(i.zone)} | ${mdCell(i.lifecycleState)} | ${mdCell(i.health)} | ${mdCell(s.targets.find((x) => x.instanceId === i.instanceId)?.health ?? 'not registered')} |`,
    ),
    '',
    '### etcd members',
    '',
  ];
  if (s.etcd) {
    out.push(
      '| member | name | role | healthy |',
      '|---|---|---|---|',
      ...s.etcd.members.map(
        (m) =>
          `| ${mdCell(m.id)} | ${m.name ? mdCell(m.name) : '(not started)'} | ${m.isLearner ? 'learner' : m.leader ? 'voter, leader' : 'voter'} | ${m.healthy ? 'yes' : '**no**'} |`,
      ),
    );
  } else out.push('Unknown: the reconciler has published no status document yet.');
  out.push('', '### Last reconcile', '');
  out.push(
    s.lastReconcile
      ? `${mdText(s.lastReconcile.at)}: **${mdText(s.lastReconcile.result)}**${s.lastReconcile.detail ? `: ${mdText(s.lastReconcile.detail)}` : ''}`
      : 'None recorded.',
  );
  if (a.warnings.length) out.push('', ...a.warnings.map((w) => `> [!WARNING]\n> ${mdText(w)}`));
  out.push('');
  return out.join('\n');
}

/**
 * The reconciler publishes its status document every pass (a schedule of one minute, plus events):
 * older than this, its etcd facts are stale, itself a reason to call the cluster degraded.
 */
export const STATUS_MAX_AGE_MS = 3 * 60_000;

/** `tripod status`'s exit codes. */
export const STATUS_EXIT = { healthy: 0, degraded: 1, 'quorum-lost': 3 } as const;

export interface StatusVerdict {
  state: keyof typeof STATUS_EXIT;
  exitCode: (typeof STATUS_EXIT)[keyof typeof STATUS_EXIT];
  /** Why it is not healthy (empty when healthy). */
  reasons: string[];
  /** Healthy voters beyond quorum: how many more can fail (negative: quorum lost). */
  quorumMargin: number;
  /** Age of the reconciler's status document (undefined: there is none, or it has no time). */
  statusAgeMs: number | undefined;
  stale: boolean;
}

/**
 * Healthy, degraded or quorum lost, from the status (AWS now, etcd as the reconciler last saw it)
 * and its assessment. Quorum lost: fewer healthy voters than quorum. Degraded: zone-loss survival
 * lost, a member or master not healthy, fewer masters than the spec wants, an unhealthy API target,
 * or etcd facts that are missing or older than STATUS_MAX_AGE_MS.
 */
export function statusVerdict(s: ClusterStatus, a: StatusAssessment, now: number): StatusVerdict {
  const at = s.statusAt ?? s.lastReconcile?.at;
  const parsed = at ? Date.parse(at) : Number.NaN;
  const statusAgeMs = Number.isFinite(parsed) ? Math.max(0, now - parsed) : undefined;
  const stale = statusAgeMs === undefined || statusAgeMs > STATUS_MAX_AGE_MS;
  const quorumMargin = a.healthyVoters - s.quorum;
  const reasons: string[] = [];
  if (quorumMargin < 0)
    reasons.push(`etcd quorum is lost: ${a.healthyVoters} healthy voters, quorum is ${s.quorum}`);
  reasons.push(...a.problems.filter((p) => !p.startsWith('etcd quorum is LOST')));
  if (!s.etcd) reasons.push(s.missingStatusDocument ?? 'the reconciler has published no status document');
  else if (stale)
    reasons.push(
      `the reconciler's status document is stale (${statusAgeMs === undefined ? 'no time' : `${Math.round(statusAgeMs / 1000)} s old`}, more than ${STATUS_MAX_AGE_MS / 1000} s): its etcd facts may no longer hold; is the reconciler running?`,
    );
  if (s.etcd) {
    const bad = s.etcd.members.filter((m) => !m.healthy || m.isLearner);
    if (bad.length)
      reasons.push(
        `etcd members not healthy voters: ${bad.map((m) => `${m.name || m.id} (${m.isLearner ? 'learner' : 'unhealthy'})`).join(', ')}`,
      );
    if (s.etcd.healthyVoters < s.expectedMasters && !bad.length)
      reasons.push(`${s.etcd.healthyVoters} of ${s.expectedMasters} etcd voters`);
  }
  // The warm pool's instances (Warmed:*) wait prepared to become masters: they are none yet.
  const masters = s.instances.filter((i) => !isWarm(i));
  const unwell = masters.filter((i) => i.lifecycleState !== 'InService' || i.health !== 'Healthy');
  if (unwell.length)
    reasons.push(
      `masters not in service and healthy: ${unwell.map((i) => `${i.instanceId} ${i.lifecycleState}/${i.health}`).join(', ')}`,
    );
  const inService = masters.length - unwell.length;
  if (inService < s.expectedMasters) reasons.push(`${inService} of ${s.expectedMasters} masters in service`);
  const badTargets = s.targets.filter((t) => t.health !== 'healthy');
  if (badTargets.length)
    reasons.push(
      `API targets not healthy: ${badTargets.map((t) => `${t.instanceId} ${t.health}`).join(', ')}`,
    );
  const state = quorumMargin < 0 ? 'quorum-lost' : reasons.length ? 'degraded' : 'healthy';
  return { state, exitCode: STATUS_EXIT[state], reasons, quorumMargin, statusAgeMs, stale };
}

const ago = (ms: number) =>
  ms < 120_000
    ? `${Math.round(ms / 1000)} s`
    : ms < 7_200_000
      ? `${Math.round(ms / 60_000)} min`
      : `${(ms / 3_600_000).toFixed(1)} h`;

/** Columns padded to their widest cell. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The status report for a terminal (plain text, no Markdown). */
export function statusText(
  s: ClusterStatus,
  a: StatusAssessment,
  v: StatusVerdict,
  now: number,
  statusParameterName: string,
): string {
  const head = { healthy: 'HEALTHY', degraded: 'DEGRADED', 'quorum-lost': 'QUORUM LOST' }[v.state];
  const out = [`tripod status: ${s.cluster} in ${s.region}: ${head}`, ''];
  out.push(
    `etcd: ${a.healthyVoters} of ${s.expectedMasters} voters healthy, quorum ${s.quorum}, margin ${v.quorumMargin}${v.quorumMargin >= 0 ? ` (${v.quorumMargin} more can fail)` : ''}`,
  );
  out.push(
    s.etcd
      ? `etcd facts: the reconciler's status document ${statusParameterName}, published ${v.statusAgeMs === undefined ? 'at an unknown time' : `${ago(v.statusAgeMs)} ago`}${v.stale ? ' (STALE)' : ''} (this CLI cannot reach etcd inside the VPC)`
      : `etcd facts: none (${statusParameterName} not published): counting healthy masters instead`,
  );
  out.push(`survives the loss of any zone now: ${a.zones.every((z) => z.survivesLoss) ? 'yes' : 'NO'}`, '');
  out.push('Masters per zone');
  out.push(
    ...table(
      ['zone', 'masters', 'healthy voters', 'survives its loss', ...(s.warmPoolPerZone ? ['warm pool'] : [])],
      a.zones.map((z) => [
        z.zone,
        String(s.mastersPerZone[z.zone] ?? 0),
        String(z.healthyVoters),
        z.survivesLoss ? 'yes' : 'NO',
        ...(s.warmPoolPerZone ? [String(s.warmPoolPerZone[z.zone] ?? 0)] : []),
      ]),
    ),
    '',
    'Instances',
    ...table(
      ['instance', 'zone', 'lifecycle', 'health', 'API target'],
      s.instances.map((i) => [
        i.instanceId,
        i.zone,
        i.lifecycleState,
        i.health,
        s.targets.find((x) => x.instanceId === i.instanceId)?.health ?? 'not registered',
      ]),
    ),
    '',
    'etcd members',
  );
  if (s.etcd)
    out.push(
      ...table(
        ['member', 'name', 'role', 'healthy'],
        s.etcd.members.map((m) => [
          m.id,
          m.name || '(not started)',
          m.isLearner ? 'learner' : m.leader ? 'voter, leader' : 'voter',
          m.healthy ? 'yes' : 'NO',
        ]),
      ),
    );
  else out.push('  unknown');
  out.push('', "Reconciler's last passes (most recent last)");
  const actions = s.recentActions ?? [];
  if (actions.length)
    out.push(
      ...table(
        ['at', 'action', 'outcome', 'detail'],
        actions.map((x) => [x.at, x.action, x.outcome, x.detail ?? '']),
      ),
    );
  else out.push('  no actions recorded');
  if (s.lastReconcile) out.push(`  last pass ${s.lastReconcile.at}: ${s.lastReconcile.result}`);
  out.push('');
  if (s.lastBackup) {
    const t = Date.parse(s.lastBackup.time);
    out.push(
      `Last backup: ${s.lastBackup.time} (${ago(Math.max(0, now - t))} ago), revision ${s.lastBackup.revision}, ${s.lastBackup.key}`,
    );
  } else if (s.lastBackup === null) out.push('Last backup: none yet');
  else out.push(`Last backup: unknown (${s.lastBackupUnknown ?? 'not read'})`);
  if (v.reasons.length) out.push('', `${head}:`, ...v.reasons.map((r) => `  - ${r}`));
  const notes = a.warnings.filter((w) => !v.reasons.includes(w));
  if (notes.length) out.push('', 'Notes:', ...notes.map((w) => `  - ${w}`));
  return `${out.join('\n')}\n`;
}
