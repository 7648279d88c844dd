/**
 * A real 3.5 etcd cluster for a LambdaCloud's masters: one TLS member per instance at its 127.x
 * address on etcd's standard ports, and the reconciler's client certificate published where the seed
 * publishes it (master.sh publish_reconciler_cert), so the real handler can reach them.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutParameterCommand } from '@aws-sdk/client-ssm';
import { createEtcdClient } from '../../src/adapters/etcd/client.js';
import { reconcilerClientCertParameter } from '../../src/contract/protocol.js';
import { runReconcilePass } from '../../src/lambdas/reconciler.js';
import { createReconcilerHandler, type Telemetry } from '../../src/lambdas/reconciler-handler.js';
import { EtcdTestCluster, type EtcdTestMember } from './etcd-cluster.js';
import { createLambdaCloud, type LambdaCloud, publishConfig } from './lambda-cloud.js';
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

/**
 * A LambdaCloud in moto (cluster `<prefix><octet>`) whose masters run real etcd at their 127.x
 * addresses, its configuration published with TLS to etcd; `dir` is a fresh working directory.
 */
export async function lambdaCloudOnRealEtcd(
  endpoint: string,
  prefix: string,
  region: string,
): Promise<{
  cloud: LambdaCloud;
  cluster: EtcdTestCluster;
  members: EtcdTestMember[];
  ips: Map<string, string>;
  dir: string;
}> {
  const octet = 100 + Math.floor(Math.random() * 150);
  const cloud = await createLambdaCloud(endpoint, `${prefix}${octet}`, region, octet);
  cloud.config.etcdScheme = 'https';
  await publishConfig(cloud);
  const ips = new Map<string, string>();
  const d = await cloud.aws.ec2.send(new DescribeInstancesCommand({ InstanceIds: cloud.masters }));
  for (const r of d.Reservations ?? [])
    for (const i of r.Instances ?? []) ips.set(i.InstanceId!, i.PrivateIpAddress!);
  for (const ip of ips.values())
    if (!ip.startsWith('127.')) throw new Error(`master address ${ip} is not on loopback`); // nothing leaves the machine
  const dir = await mkdtemp(join(tmpdir(), `tripod-${prefix}-`));
  const { cluster, members } = await startMastersEtcd(cloud, dir, octet, ips);
  return { cloud, cluster, members, ips, dir };
}

/** The real reconciler handler over the LambdaCloud's clients and its masters' real etcd. */
export function realReconcilerHandler(cloud: LambdaCloud, telemetry: Telemetry) {
  return createReconcilerHandler({
    clients: { autoScaling: cloud.autoScaling, ec2: cloud.aws.ec2, elbv2: cloud.elbv2, ssm: cloud.aws.ssm },
    cluster: cloud.config.cluster,
    makeEtcd: (tls) => createEtcdClient({ ...(tls ? { tls } : {}), timeoutMs: 1500 }),
    runPass: runReconcilePass,
    telemetry,
    now: Date.now,
  });
}
