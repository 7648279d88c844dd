/**
 * Issue 15, finding 7, against moto: the nodes write their secrets under /tripod/<cluster>/ untagged
 * (CAs, the encryption key, tokens, records). Destroy deletes every parameter under the cluster's own
 * path (not another cluster's, not one tagged for another cluster), sweeps once more for what was
 * written meanwhile, and a new cluster of the same name refuses to start on what an earlier one left.
 */
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '../../src/adapters/aws/clients.js';
import { getParameter, getParametersByPath, putParameter } from '../../src/adapters/aws/ssm.js';
import { CLUSTER_TAG, MANAGED_BY_TAG, MANAGED_BY_VALUE } from '../../src/contract/protocol.js';
import { applyPlan, destroy } from '../../src/provision/apply.js';
import { planCluster } from '../../src/provision/plan.js';
import { clients, threeZoneSpec } from '../support/provision-support.js';

const endpoint = inject('motoEndpoint');
const REGION = 'ap-northeast-3';
const spec = threeZoneSpec('pt-sec', REGION, '10.47.0.0/16');
const owned = { [CLUSTER_TAG]: 'pt-sec', [MANAGED_BY_TAG]: MANAGED_BY_VALUE };

let aws: AwsClients;
beforeAll(() => {
  aws = clients(endpoint, REGION);
});
afterAll(() => aws.destroy());

/** What a node writes: a parameter without tags (the CLI's put-parameter). */
async function nodeWrites(name: string, value: string, secure = true): Promise<void> {
  await aws.ssm.send(
    new PutParameterCommand({
      Name: name,
      Value: value,
      Type: secure ? 'SecureString' : 'String',
      Overwrite: true,
    }),
  );
}

async function names(path: string): Promise<string[]> {
  return (await getParametersByPath(aws, path, { decrypt: false })).map((p) => p.name).sort();
}

describe('destroy and the secrets the cluster wrote', () => {
  it('destroy deletes every parameter under the cluster path, tagged or not, and says which are secrets', async () => {
    await putParameter(aws, { name: '/tripod/pt-sec/config', value: '{}', tags: owned, overwrite: false });
    await nodeWrites(
      '/tripod/pt-sec/pki/etcd-ca',
      '-----BEGIN CERTIFICATE-----\nx\n-----BEGIN PRIVATE KEY-----\ny',
    );
    await nodeWrites('/tripod/pt-sec/pki/encryption-key', 'a2V5');
    await nodeWrites('/tripod/pt-sec/worker-join', '{"token":"abcdef.0123456789abcdef"}');
    await nodeWrites('/tripod/pt-sec/workers/drained/i-1', '2026-01-01T00:00:00Z', false);
    // another cluster's path that shares the prefix, and a parameter tagged for another cluster
    await nodeWrites('/tripod/pt-secx/pki/etcd-ca', 'theirs');
    await putParameter(aws, {
      name: '/tripod/pt-sec/borrowed',
      value: 'x',
      tags: { [CLUSTER_TAG]: 'other', [MANAGED_BY_TAG]: MANAGED_BY_VALUE },
      overwrite: false,
    });

    const shown = await planCluster(aws, spec, { destroy: true });
    const deletes = shown.plan.changes.filter((c) => c.kind === 'parameter').map((c) => c.title);
    expect(deletes.sort()).toEqual([
      'parameter /tripod/pt-sec/config',
      'parameter /tripod/pt-sec/workers/drained/i-1',
      'secret parameter /tripod/pt-sec/pki/encryption-key',
      'secret parameter /tripod/pt-sec/pki/etcd-ca',
      'secret parameter /tripod/pt-sec/worker-join',
    ]);

    // a node writes while destroy runs: the final sweep takes it too
    const progress: string[] = [];
    let wrote = false;
    await destroy(aws, spec, {
      shown,
      onProgress: (e) => {
        progress.push(e.message);
        if (!wrote) {
          wrote = true;
          void nodeWrites('/tripod/pt-sec/workers/drained/i-2', 'late', false);
        }
      },
    });
    expect(await names('/tripod/pt-sec/')).toEqual(['/tripod/pt-sec/borrowed']);
    expect(await names('/tripod/pt-secx/')).toEqual(['/tripod/pt-secx/pki/etcd-ca']);
    expect(progress).toContainEqual(
      expect.stringMatching(
        /deleted 1 parameter\(s\) written while destroying: parameter \/tripod\/pt-sec\/workers\/drained\/i-2/,
      ),
    );
  });

  it('a new cluster of the same name refuses to start on an old CA: plan shows a conflict, apply changes nothing', async () => {
    await nodeWrites('/tripod/pt-sec/pki/kubernetes-ca', 'old CA');
    const state = await planCluster(aws, spec);
    expect(state.plan.conflicts).toContainEqual(
      expect.stringMatching(
        /^2 parameter\(s\) of an earlier cluster named pt-sec are still under \/tripod\/pt-sec\/ \((parameter \/tripod\/pt-sec\/borrowed, secret parameter \/tripod\/pt-sec\/pki\/kubernetes-ca|secret parameter \/tripod\/pt-sec\/pki\/kubernetes-ca, parameter \/tripod\/pt-sec\/borrowed)\): a new cluster would adopt its CAs and keys/,
      ),
    );
    await expect(applyPlan(state)).rejects.toThrow(/conflict/);
    expect(await getParameter(aws, '/tripod/pt-sec/config')).toBeUndefined();
  });
});
