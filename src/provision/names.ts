/**
 * The AWS names of a cluster's resources: one place, so the provisioner, the reconciler config and
 * the simulator agree. ELBv2 names are at most 32 characters: cluster names are at most 20.
 */
export function resourceNames(cluster: string) {
  return {
    masterGroup: `${cluster}-masters`,
    workerGroup: `${cluster}-workers`,
    masterLaunchTemplate: `${cluster}-masters`,
    workerLaunchTemplate: `${cluster}-workers`,
    masterLaunchingHook: 'tripod-master-launching',
    masterTerminatingHook: 'tripod-master-terminating',
    workerLaunchingHook: 'tripod-worker-launching',
    workerTerminatingHook: 'tripod-worker-terminating',
    apiLoadBalancer: `${cluster}-api`,
    apiTargetGroup: `${cluster}-api`,
    serviceLoadBalancer: `${cluster}-svc`,
    serviceTargetGroup: (port: number) => `${cluster}-svc-${port}`,
    masterSecurityGroup: `${cluster}-masters`,
    workerSecurityGroup: `${cluster}-workers`,
    loadBalancerSecurityGroup: `${cluster}-lb`,
    reconcilerSecurityGroup: `${cluster}-reconciler`,
    reconcilerFunction: `${cluster}-reconciler`,
    eventRule: (what: string) => `${cluster}-${what}`,
  };
}
export type ResourceNames = ReturnType<typeof resourceNames>;
