import { parseSpec } from '../../src/cluster-spec/load.js';
import type { ClusterSpec } from '../../src/cluster-spec/schema.js';

/** What a minimal spec may vary; each default is MINIMAL_SPEC's. */
export interface MinimalSpecOptions {
  name?: string;
  region?: string;
  cidr?: string;
  /** How many zones of the region (a, b, c, ...). */
  zones?: number;
  kubernetesVersion?: string;
}

/** The smallest valid spec as YAML text, its name, region, CIDR, zone count or version changed. */
export function minimalSpec({
  name = 'demo',
  region = 'eu-west-1',
  cidr = '10.40.0.0/16',
  zones = 3,
  kubernetesVersion = '1.32.4',
}: MinimalSpecOptions = {}): string {
  const zoneList = [...'abcdef'.slice(0, zones)].map((z) => `${region}${z}`).join(', ');
  return `apiVersion: tripod/v1
kind: Cluster
name: ${name}
region: ${region}
kubernetesVersion: ${kubernetesVersion}
network:
  cidr: ${cidr}
  zones: [${zoneList}]
`;
}

/**
 * The smallest valid spec as YAML text (8 lines), for tests that append a section and check what the
 * loader says about it at its line and column.
 */
export const MINIMAL_SPEC = minimalSpec();

/** minimalSpec(options) plus `extra` YAML, loaded; throws with the loader's problems if it does not load. */
export function minimalClusterSpec(options: MinimalSpecOptions = {}, extra = ''): ClusterSpec {
  const loaded = parseSpec(minimalSpec(options) + extra);
  if (!loaded.ok) throw new Error(`fixture spec does not load: ${JSON.stringify(loaded.problems)}`);
  return loaded.spec;
}
