/**
 * Renders a node's user data (the cloud-init shell script) from the spec. PLACEHOLDER: the bootstrap
 * work replaces this body with the real scripts; the provisioner only relies on the signature.
 */
import type { ClusterSpec } from '../spec/schema.js';

export function renderUserData(spec: ClusterSpec, role: 'master' | 'worker'): string {
  return [
    '#!/bin/bash',
    '# tripod placeholder user data: the bootstrap scripts replace this.',
    'set -euo pipefail',
    `echo "tripod ${role} of cluster ${spec.name} (Kubernetes ${spec.kubernetesVersion})"`,
    '',
  ].join('\n');
}
