/**
 * A real 3.5 etcd cluster for a LambdaCloud's masters: one TLS member per instance at its 127.x
 * address on etcd's standard ports, and the reconciler's client certificate published where the seed
 * publishes it (master.sh publish_reconciler_cert), so the real handler can reach them.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { createEtcdClient } from '../../src/adapters/etcd/client.js';
import { reconcilerClientCertParameter } from '../../src/contract/protocol.js';
import { EtcdTestCluster, type EtcdTestMember } from './etcd-cluster.js';
import type { LambdaCloud } from './lambda-cloud.js';
import { issueClientCert, makeCa, readTls } from './pki.js';

const pem = (x: string | Buffer) => (typeof x === 'string' ? x : x.toString('utf8'));

/** Starts one member per instance (`ips`: instance id -> 127.x address) and waits until each serves. */
export async function startMastersEtcd(
  cloud: LambdaCloud,
  dir: string,
  octet: number,
  ips: ReadonlyMap<string, string>,
): Promise<{ cluster: EtcdTestCluster; members: EtcdTestMember[] }> {
  const caDir = join(dir, 'ca');
  mkdirSync(caDir);
  const ca = await makeCa(caDir);
  const tls = await readTls(ca.cert, await issueClientCert(caDir, caDir, 'tripod-reconciler'));
  await cloud.aws.ssm.send(
    new PutParameterCommand({
      Name: reconcilerClientCertParameter(cloud.config.cluster),
      Value: JSON.stringify({ ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key) }),
      Type: 'SecureString',
    }),
  );
  const client = createEtcdClient({ tls, timeoutMs: 1000 });
  const cluster = new EtcdTestCluster(dir, 'https', `127.${octet}.1.`, caDir, tls, client, {
    scheme: 'https',
    heartbeatMs: 50,
    electionMs: 500,
    namePrefix: 'i-',
    timeoutMs: 1000,
    readyTimeoutS: 30,
  });
  const members = [...ips].map(([name, ip]) => cluster.allocateAt(name, ip, 2379, 2380));
  const initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',');
  for (const m of members) cluster.startMember(m, { initialCluster, state: 'new' });
  await Promise.all(members.map((m) => cluster.waitServing(m)));
  return { cluster, members };
}
