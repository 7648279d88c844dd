/**
 * The Kubernetes API endpoint: a network load balancer (scheme from the spec, cross-zone on, so a
 * zone with no healthy master still answers), a TCP 6443 listener and the masters' target group,
 * health-checked over HTTPS on /readyz (the API server's own readiness, not just an open port).
 */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import { resourceNames } from '../contract/names.js';
import { API_SERVER_PORT } from '../contract/protocol.js';
import {
  type EndpointResource,
  endpointLoadBalancer,
  listenerKind,
  targetGroupKind,
} from './load-balancer.js';
import { desire, ownerTags } from './resource.js';

export function desiredApiLoadBalancer(spec: ClusterSpec, subnets: string[]): EndpointResource[] {
  const names = resourceNames(spec.name);
  const tags = ownerTags(spec);
  return [
    endpointLoadBalancer('lb/api', 'API', {
      name: names.apiLoadBalancer,
      scheme: spec.apiEndpoint.scheme,
      subnets,
      tags,
      replaceIsDestructive:
        'replacing the API load balancer changes the API endpoint every node and kubeconfig uses',
    }),
    desire(
      targetGroupKind,
      'tg/api',
      `API target group ${names.apiTargetGroup} (TCP ${API_SERVER_PORT}, HTTPS /readyz)`,
      {
        name: names.apiTargetGroup,
        protocol: 'TCP',
        port: API_SERVER_PORT,
        healthCheck: { protocol: 'HTTPS', path: '/readyz', port: 'traffic-port' },
        tags,
      },
    ),
    desire(listenerKind, `listener/api-${API_SERVER_PORT}`, `API listener TCP ${API_SERVER_PORT}`, {
      loadBalancer: 'lb/api',
      port: API_SERVER_PORT,
      protocol: 'TCP',
      targetGroup: 'tg/api',
      tags,
    }),
  ];
}
