/**
 * The smallest valid spec as YAML text (8 lines), for tests that append a section and check what the
 * loader says about it at its line and column.
 */
export const MINIMAL_SPEC = `apiVersion: tripod/v1
kind: Cluster
name: demo
region: eu-west-1
kubernetesVersion: 1.32.4
network:
  cidr: 10.40.0.0/16
  zones: [eu-west-1a, eu-west-1b, eu-west-1c]
`;
