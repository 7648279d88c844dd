/**
 * The service endpoint: a network load balancer with one listener per spec port, each forwarding to
 * a target group on the port's nodePort, in front of the workers (and the masters when schedulable).
 */

import type { ClusterSpec } from '../cluster-spec/schema.js';
import { resourceNames } from '../contract/names.js';
import {
  type DesiredListener,
  type DesiredTargetGroup,
  type EndpointResource,
  endpointLoadBalancer,
  listenerKind,
  targetGroupKind,
} from './load-balancer.js';
import { desire, ownerTags } from './resource.js';
import { KUBE_PROXY_HEALTH_PORT } from './security-groups.js';

/**
 * A TCP port is checked on itself. Nothing listens on TCP at a UDP NodePort, and a TCP check of a
 * TCP_UDP port would only see its TCP half: those are checked on kube-proxy's /healthz (HTTP 10256,
 * every node), which says whether the node forwards its NodePorts at all.
 */
export function serviceHealthCheck(protocol: 'TCP' | 'UDP' | 'TCP_UDP'): DesiredTargetGroup['healthCheck'] {
  return protocol === 'TCP'
    ? { protocol: 'TCP', port: 'traffic-port' }
    : { protocol: 'HTTP', path: '/healthz', port: String(KUBE_PROXY_HEALTH_PORT) };
}

export function desiredServiceLoadBalancer(spec: ClusterSpec, subnets: string[]): EndpointResource[] {
  const names = resourceNames(spec.name);
  const tags = ownerTags(spec);
  return [
    endpointLoadBalancer('lb/svc', 'service', {
      name: names.serviceLoadBalancer,
      scheme: spec.serviceEndpoint.scheme,
      subnets,
      tags,
    }),
    ...spec.serviceEndpoint.ports.flatMap((p) => [
      desire(
        targetGroupKind,
        `tg/svc-${p.port}`,
        `service target group ${names.serviceTargetGroup(p.port)} (${p.protocol} ${p.nodePort})`,
        {
          name: names.serviceTargetGroup(p.port),
          protocol: p.protocol,
          port: p.nodePort,
          healthCheck: serviceHealthCheck(p.protocol),
          tags,
        } satisfies DesiredTargetGroup,
      ),
      desire(
        listenerKind,
        `listener/svc-${p.port}`,
        `service listener ${p.protocol} ${p.port} -> ${p.nodePort}`,
        {
          loadBalancer: 'lb/svc',
          port: p.port,
          protocol: p.protocol,
          targetGroup: `tg/svc-${p.port}`,
          tags,
        } satisfies DesiredListener,
      ),
    ]),
  ];
}
