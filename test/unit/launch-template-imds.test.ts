/**
 * Node IMDS hop limit 1 (issue 15, finding 2): a pod's request to IMDS crosses one more hop than the
 * node's own, so with 1 the node's role credentials stay on the node. Launch templates carry it, and
 * a template from an older tripod (hop limit 2) is a change the plan shows and apply makes.
 */
import { describe, expect, it } from 'vitest';
import type { LaunchTemplateData } from '../../src/adapters/aws/ec2.js';
import {
  type DesiredLaunchTemplate,
  launchTemplateKind,
  NODE_METADATA_HOP_LIMIT,
} from '../../src/provision/launch-templates.js';
import { Refs } from '../../src/provision/resource.js';

const desired: DesiredLaunchTemplate = {
  name: 'c1-masters',
  image: 'ami-0123456789abcdef0',
  instanceType: 'm6i.large',
  instanceProfile: 'tripod-c1-master',
  securityGroups: [],
  userData: '#!/bin/sh\n',
  volumeSize: 50,
  instanceTags: {},
  tags: {},
};

function found(data: Partial<LaunchTemplateData>) {
  return {
    key: 'lt/masters',
    kind: 'launch-template',
    title: 'launch template c1-masters',
    id: 'lt-1',
    owned: true,
    attrs: {},
    actual: {
      template: { id: 'lt-1', name: 'c1-masters', latestVersion: 1, defaultVersion: 1, tags: {} },
      data: {
        image: desired.image,
        instanceType: desired.instanceType,
        instanceProfile: desired.instanceProfile,
        securityGroupIds: [],
        userData: Buffer.from(desired.userData).toString('base64'),
        volumeSize: desired.volumeSize,
        instanceTags: {},
        metadataHopLimit: NODE_METADATA_HOP_LIMIT,
        ...data,
      },
    },
  };
}

describe('launch templates: IMDS hop limit 1', () => {
  it('is 1', () => expect(NODE_METADATA_HOP_LIMIT).toBe(1));

  it('a template with hop limit 2 (older tripod) is a change; one with 1 is not', () => {
    const old = launchTemplateKind.compare(desired, found({ metadataHopLimit: 2 }), new Refs());
    expect(old.changes).toContainEqual({ field: 'metadataHopLimit', before: 2, after: 1 });
    const same = launchTemplateKind.compare(desired, found({}), new Refs());
    expect(same.changes.map((c) => c.field)).not.toContain('metadataHopLimit');
  });
});
