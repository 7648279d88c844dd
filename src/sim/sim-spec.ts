/**
 * The cluster spec a simulation runs when it is given none (zones, masters, name and region from the
 * simulation's options, the schema's defaults for the rest), and its network model: the security
 * groups the provisioner declares for that spec. Models are built once per spec shape and shared by
 * every seed that runs it.
 */

import { type ClusterSpec, clusterSpecSchema } from '../cluster-spec/schema.js';
import { desiredCluster } from '../provision/desired.js';
import { NetworkModel } from './network.js';

export interface SimSpecOptions {
  cluster: string;
  region: string;
  zones: readonly string[];
  masters: number;
}

/** A spec the simulator stands for: a VPC tripod makes, the default endpoints and service ports. */
export function simSpec(o: SimSpecOptions): ClusterSpec {
  return clusterSpecSchema.parse({
    apiVersion: 'tripod/v1',
    kind: 'Cluster',
    name: o.cluster,
    region: o.region,
    kubernetesVersion: '1.32.4',
    network: { cidr: '10.0.0.0/16', zones: [...o.zones] },
    masters: { count: o.masters },
  });
}

const models = new Map<string, NetworkModel>();

/** The network model of the provisioner's desired resources for `spec` (cached for `simSpec`s). */
export function networkOf(spec: ClusterSpec): NetworkModel {
  return NetworkModel.of(spec, desiredCluster(spec));
}

export function simNetwork(o: SimSpecOptions): NetworkModel {
  const key = `${o.cluster}|${o.region}|${o.zones.join(',')}|${o.masters}`;
  let m = models.get(key);
  if (!m) {
    m = networkOf(simSpec(o));
    models.set(key, m);
  }
  return m;
}
