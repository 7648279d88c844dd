/** `tripod kubeconfig`: a kubeconfig for the cluster's API, with a short-lived admin client certificate. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { clusterEndpoints } from '../action/engine-aws.js';
import { AwsApiError } from '../adapters/aws/errors.js';
import { getParameter } from '../adapters/aws/ssm.js';
import { callerArn } from '../adapters/aws/sts.js';
import { API_SERVER_PORT, CLUSTER_ADMIN_GROUP, caParameter } from '../contract/protocol.js';
import { AWS_CREDENTIALS_NOTE, openAws } from './aws-options.js';
import { type CommandDef, UsageError, UserError } from './command.js';
import {
  buildKubeconfig,
  issueClientCertificate,
  kubeconfigText,
  mergeKubeconfig,
  parseTtl,
  splitPem,
} from './kubeconfig-core.js';
import { awsCommandOptions, specArgument } from './options.js';

/** The kubeconfig `--merge` updates: $KUBECONFIG's first file, else ~/.kube/config. */
export function defaultKubeconfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const first = (env.KUBECONFIG ?? '').split(delimiter).find((p) => p.length > 0);
  return first ?? join(homedir(), '.kube', 'config');
}

/** Writes `text` to `path` as 0600 (also when the file was there with a wider mode). */
function writePrivate(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export const kubeconfigCommand: CommandDef = {
  name: 'kubeconfig',
  summary: "write a kubeconfig for the cluster's API (a short-lived admin client certificate)",
  description: `Writes a kubeconfig for the cluster's API endpoint: apiEndpoint.dnsName, else the API load
balancer's own DNS name, on port ${API_SERVER_PORT}. It authenticates with a client certificate made
here: a new key pair, signed with the cluster's Kubernetes CA read from SSM
(/tripod/<cluster>/pki/kubernetes-ca, so your AWS identity needs ssm:GetParameter on it and
kms:Decrypt through SSM), in the group ${CLUSTER_ADMIN_GROUP}, which the first master binds to
cluster-admin. The key is written only into the kubeconfig. The certificate cannot be revoked:
it expires after --ttl; run the command again for a new one.

Without --output or --merge the kubeconfig goes to standard output.`,
  argument: specArgument,
  options: [
    ...awsCommandOptions,
    {
      flags: '-o, --output <file>',
      description: 'write the kubeconfig to FILE (mode 0600; replaced, or updated with --merge)',
    },
    {
      flags: '--ttl <duration>',
      description: 'how long the certificate is valid: 12h, 90m, 1h30m, at most 7d',
      default: '12h',
    },
    {
      flags: '--merge',
      description:
        "add or replace this cluster's cluster, user and context (named tripod-<name>-<region>) in an existing kubeconfig, keep everything else, and make it the current context: --output FILE, else $KUBECONFIG's first file, else ~/.kube/config (mode 0600)",
    },
  ],
  footer: `${AWS_CREDENTIALS_NOTE}

Exit codes: 0 written, 1 cluster not found or CA not readable, 64 usage error.`,
  async run(values, io) {
    const ttlMs = parseTtl(String(values.ttl));
    if (typeof ttlMs === 'string') throw new UsageError(ttlMs);
    const { spec, aws } = openAws(values);
    try {
      const name = `tripod-${spec.name}-${spec.region}`;
      const param = caParameter(spec.name, 'kubernetes-ca');
      let ca: Awaited<ReturnType<typeof getParameter>>;
      try {
        ca = await getParameter(aws, param);
      } catch (e) {
        if (e instanceof AwsApiError && e.kind === 'access-denied')
          throw new UserError(
            `your AWS identity may not read the cluster CA ${param} (needs ssm:GetParameter on it and kms:Decrypt via SSM): ${e.message}`,
          );
        throw e;
      }
      if (!ca)
        throw new UserError(
          `cluster ${spec.name} has no Kubernetes CA in ${spec.region} (${param} not found): its first master creates it at boot; apply the cluster, or wait for the first master`,
        );
      const pem = splitPem(ca.value);
      if (!pem) throw new UserError(`${param} does not hold a certificate and a private key`);
      const endpoints = await clusterEndpoints(aws, spec);
      if (!endpoints.api)
        throw new UserError(
          `cluster ${spec.name} has no API endpoint in ${spec.region}: no apiEndpoint.dnsName in the spec and no API load balancer found`,
        );
      const user = `tripod:${await callerArn(aws)}`;
      const client = await issueClientCertificate({
        caCert: pem.cert,
        caKey: pem.key,
        user,
        group: CLUSTER_ADMIN_GROUP,
        ttlMs,
      });
      const ours = buildKubeconfig({
        name,
        server: `https://${endpoints.api}:${API_SERVER_PORT}`,
        caCert: pem.cert,
        client,
      });
      const output = typeof values.output === 'string' ? values.output : undefined;
      const expiry = `valid until ${client.notAfter.toISOString()}`;
      if (values.merge === true) {
        const path = output ?? defaultKubeconfigPath();
        const existing = existsSync(path) ? readFileSync(path, 'utf8') : '';
        let merged: ReturnType<typeof mergeKubeconfig>;
        try {
          merged = mergeKubeconfig(existing, ours);
        } catch (e) {
          throw new UserError(`${path} ${(e as Error).message}: nothing written`);
        }
        writePrivate(path, kubeconfigText(merged));
        io.err(`updated context ${name} in ${path} (user ${user}, group ${CLUSTER_ADMIN_GROUP}, ${expiry})`);
      } else if (output) {
        writePrivate(output, kubeconfigText(ours));
        io.err(`wrote ${output}: context ${name} (user ${user}, group ${CLUSTER_ADMIN_GROUP}, ${expiry})`);
      } else {
        io.out(kubeconfigText(ours));
      }
      return 0;
    } catch (e) {
      if (e instanceof AwsApiError) throw new UserError(e.message);
      throw e;
    } finally {
      aws.destroy();
    }
  },
};
