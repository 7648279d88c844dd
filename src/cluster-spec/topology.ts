/**
 * Topology: what a spec means for the control plane. Zones, master count, quorum, the masters placed
 * per zone, and for each zone whether the cluster keeps quorum when that zone is lost.
 */
import type { ClusterSpec } from './schema.js';

export interface ZonePlacement {
  name: string;
  masters: number;
  /** Masters left when this zone is lost. */
  mastersAfterLoss: number;
  /** Whether the remaining masters still form a quorum. */
  survivesLoss: boolean;
}

export interface Topology {
  cluster: string;
  region: string;
  zones: ZonePlacement[];
  masters: number;
  quorum: number;
  /** Masters that can fail at once with quorum kept. */
  faultTolerance: number;
  survivesAnyZoneLoss: boolean;
  /** Plain-language warnings (no HA, zone loss not survivable, an API open to the internet) for plans and summaries. */
  warnings: string[];
}

/**
 * An internet-facing API without `apiEndpoint.allowedCidrs` admits every address on the internet to
 * TCP 6443 (the load balancers' security group): anyone can probe the API server and try credentials.
 */
export function apiExposureWarning(spec: ClusterSpec): string | undefined {
  if (spec.apiEndpoint.scheme !== 'internet-facing' || spec.apiEndpoint.allowedCidrs) return undefined;
  return 'The Kubernetes API is OPEN TO THE WHOLE INTERNET: apiEndpoint is internet-facing and gives no allowedCidrs, so TCP 6443 is allowed from 0.0.0.0/0. List the networks that need it in apiEndpoint.allowedCidrs, or make apiEndpoint internal.';
}

export const quorumOf = (members: number): number => Math.floor(members / 2) + 1;

/** M = zones, +1 when even, at least 3. */
export function autoMasterCount(zoneCount: number): number {
  const odd = zoneCount % 2 === 0 ? zoneCount + 1 : zoneCount;
  return Math.max(3, odd);
}

/** Spreads `masters` over `zones` as evenly as possible, earlier zones taking the remainder (as Auto Scaling balances). */
export function placeMasters(zones: readonly string[], masters: number): Map<string, number> {
  const out = new Map<string, number>();
  const base = Math.floor(masters / zones.length);
  const extra = masters % zones.length;
  zones.forEach((z, i) => {
    out.set(z, base + (i < extra ? 1 : 0));
  });
  return out;
}

export function deriveTopology(spec: ClusterSpec): Topology {
  const zoneNames = spec.network.zones;
  const masters = spec.masters.count === 'auto' ? autoMasterCount(zoneNames.length) : spec.masters.count;
  const quorum = quorumOf(masters);
  const placement = placeMasters(zoneNames, masters);
  const zones = zoneNames.map((name) => {
    const here = placement.get(name) ?? 0;
    const after = masters - here;
    return { name, masters: here, mastersAfterLoss: after, survivesLoss: after >= quorum };
  });
  const survivesAnyZoneLoss = zones.every((z) => z.survivesLoss);
  const warnings: string[] = [];
  if (masters === 1) {
    warnings.push(
      '1 master: no high availability. Losing it stops the Kubernetes API; use 3 or more masters.',
    );
  }
  if (!survivesAnyZoneLoss) {
    const lost = zones.filter((z) => !z.survivesLoss);
    const why = lost
      .map(
        (z) =>
          `losing ${z.name} leaves ${z.mastersAfterLoss} of ${masters} masters, below the quorum of ${quorum}`,
      )
      .join('; ');
    const fix =
      zoneNames.length < 3
        ? `spread the cluster over at least 3 zones (it has ${zoneNames.length})`
        : 'use masters.count auto or a count that spreads evenly';
    warnings.push(`A zone loss is NOT survivable: ${why}. To survive one, ${fix}.`);
  }
  const exposed = apiExposureWarning(spec);
  if (exposed) warnings.push(exposed);
  return {
    cluster: spec.name,
    region: spec.region,
    zones,
    masters,
    quorum,
    faultTolerance: masters - quorum,
    survivesAnyZoneLoss,
    warnings,
  };
}
