/**
 * Status: what AWS and the reconciler's status document say, judged against the spec's topology.
 * Pure: `assessStatus` decides pass/fail, `statusReport` renders Markdown.
 */
import { quorumOf, type Topology } from '../spec/topology.js';
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
    `## tripod status: \`${s.cluster}\` in ${s.region}`,
    '',
    ok
      ? `:white_check_mark: **Healthy**: ${a.healthyVoters} of ${s.expectedMasters} etcd voters healthy (quorum ${s.quorum}).`
      : `:x: **${a.problems.join('. ')}.**`,
    '',
    '### Masters per zone',
    '',
    '| zone | masters | healthy etcd voters | survives its loss now |',
    '|---|---|---|---|',
    ...a.zones.map(
      (z) =>
        `| ${z.zone} | ${s.mastersPerZone[z.zone] ?? 0} | ${z.healthyVoters} | ${z.survivesLoss ? 'yes' : '**NO**'} |`,
    ),
    '',
    '### Instances',
    '',
    '| instance | zone | lifecycle | health | API target |',
    '|---|---|---|---|---|',
    ...s.instances.map(
      (i) =>
        `| ${i.instanceId} | ${i.zone} | ${i.lifecycleState} | ${i.health} | ${s.targets.find((x) => x.instanceId === i.instanceId)?.health ?? 'not registered'} |`,
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
          `| ${m.id} | ${m.name || '(not started)'} | ${m.isLearner ? 'learner' : m.leader ? 'voter, leader' : 'voter'} | ${m.healthy ? 'yes' : '**no**'} |`,
      ),
    );
  } else out.push('Unknown: the reconciler has published no status document yet.');
  out.push('', '### Last reconcile', '');
  out.push(
    s.lastReconcile
      ? `${s.lastReconcile.at}: **${s.lastReconcile.result}**${s.lastReconcile.detail ? `: ${s.lastReconcile.detail}` : ''}`
      : 'None recorded.',
  );
  if (a.warnings.length) out.push('', ...a.warnings.map((w) => `> [!WARNING]\n> ${w}`));
  out.push('');
  return out.join('\n');
}
