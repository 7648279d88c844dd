/**
 * `tripod kubeconfig`'s core: a short-lived client certificate signed with the cluster's Kubernetes CA
 * (the key pair made here, never stored anywhere but the kubeconfig), the kubeconfig around it, and
 * merging it into an existing kubeconfig the way `aws eks update-kubeconfig` does (cluster, user and
 * context of this name added or replaced, everything else kept, current-context set).
 *
 * Signing uses @peculiar/x509 over node's WebCrypto: the CA key never leaves this process.
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection (tsyringe) needs it, once, first
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { parse, stringify } from 'yaml';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** Longest `--ttl`: a kubeconfig certificate cannot be revoked, so it stays short. */
export const MAX_TTL_MS = 7 * 24 * 3600_000;
export const MIN_TTL_MS = 60_000;
/** notBefore is set this far back: clocks of the caller and the API servers may differ a little. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** `12h`, `90m`, `1h30m`, `7d`, `3600s` -> milliseconds, or an explanation. */
export function parseTtl(text: string): number | string {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === '')
    return `--ttl ${JSON.stringify(text)} is not a duration like 12h, 90m or 1h30m`;
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number];
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  if (ms < MIN_TTL_MS) return `--ttl ${text} is shorter than a minute`;
  if (ms > MAX_TTL_MS)
    return `--ttl ${text} is longer than 7 days: a client certificate cannot be revoked, ask for a new one instead`;
  return ms;
}

/** The certificate and private key of a PEM document holding both (the CA parameter's value). */
export function splitPem(text: string): { cert: string; key: string } | undefined {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  const key = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(
    text,
  )?.[0];
  return cert && key ? { cert: `${cert}\n`, key: `${key}\n` } : undefined;
}

export interface ClientCertificate {
  /** PEM. */
  cert: string;
  /** PEM (PKCS#8): made here, written only into the kubeconfig. */
  key: string;
  notBefore: Date;
  notAfter: Date;
}

/** The WebCrypto import and signing algorithms for a CA key, by its type. */
function caAlgorithms(pem: string) {
  const k = createPrivateKey(pem);
  const der = k.export({ type: 'pkcs8', format: 'der' });
  if (k.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { der, importAlg: alg, signAlg: alg };
  }
  if (k.asymmetricKeyType === 'ec') {
    const curve = k.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!namedCurve) throw new Error(`the CA key's curve ${curve} is not supported`);
    return {
      der,
      importAlg: { name: 'ECDSA', namedCurve },
      signAlg: { name: 'ECDSA', hash: namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' },
    };
  }
  throw new Error(`the CA key is ${k.asymmetricKeyType}, not RSA or EC`);
}

/**
 * A client certificate for `user` in `group` (Kubernetes reads CN as the user name, O as a group),
 * valid from now (less CLOCK_SKEW_MS) for `ttlMs`, signed by the CA.
 */
export async function issueClientCertificate(input: {
  caCert: string;
  caKey: string;
  user: string;
  group: string;
  ttlMs: number;
  now?: number;
}): Promise<ClientCertificate> {
  const now = input.now ?? Date.now();
  const ca = new x509.X509Certificate(input.caCert);
  const { der, importAlg, signAlg } = caAlgorithms(input.caKey);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  const keyAlg = { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = (await webcrypto.subtle.generateKey(keyAlg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // a positive serial number
  const notBefore = new Date(Math.floor((now - CLOCK_SKEW_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor((now + input.ttlMs) / 1000) * 1000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    // JSON names: a user name with `,` or `=` (an assumed role's session) needs no escaping
    subject: [{ O: [input.group] }, { CN: [input.user] }],
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: signAlg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem'), key, notBefore, notAfter };
}

interface Named {
  name: string;
  [k: string]: unknown;
}
export interface Kubeconfig {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: Named[];
  users: Named[];
  contexts: Named[];
  'current-context': string;
  preferences?: Record<string, unknown>;
  [k: string]: unknown;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A kubeconfig with one cluster, user and context, all called `name`, as the current context. */
export function buildKubeconfig(input: {
  name: string;
  server: string;
  caCert: string;
  client: ClientCertificate;
}): Kubeconfig {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: input.name,
        cluster: { server: input.server, 'certificate-authority-data': b64(input.caCert) },
      },
    ],
    users: [
      {
        name: input.name,
        user: {
          'client-certificate-data': b64(input.client.cert),
          'client-key-data': b64(input.client.key),
        },
      },
    ],
    contexts: [{ name: input.name, context: { cluster: input.name, user: input.name } }],
    'current-context': input.name,
    preferences: {},
  };
}

/**
 * `existing` (a kubeconfig's text, maybe empty) with `ours`'s cluster, user and context added, or
 * replacing those of the same names; every other entry and field kept; current-context = ours.
 * Throws when `existing` is not a kubeconfig (nothing is written then).
 */
export function mergeKubeconfig(existing: string, ours: Kubeconfig): Kubeconfig {
  const doc = existing.trim() === '' ? {} : (parse(existing) as unknown);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new Error('is not a kubeconfig (not a YAML mapping)');
  const base = doc as Record<string, unknown>;
  const list = (key: 'clusters' | 'users' | 'contexts'): Named[] => {
    const v = base[key] ?? [];
    if (!Array.isArray(v)) throw new Error(`is not a kubeconfig: ${key} is not a list`);
    return v as Named[];
  };
  const merged = (key: 'clusters' | 'users' | 'contexts'): Named[] => {
    const add = ours[key];
    const names = new Set(add.map((e) => e.name));
    const kept = list(key).filter((e) => !names.has(e?.name));
    return [...kept, ...add];
  };
  return {
    ...base,
    apiVersion: 'v1',
    kind: 'Config',
    clusters: merged('clusters'),
    users: merged('users'),
    contexts: merged('contexts'),
    'current-context': ours['current-context'],
    preferences: (base.preferences as Record<string, unknown> | undefined) ?? {},
  };
}

export const kubeconfigText = (k: Kubeconfig): string => stringify(k, { lineWidth: 0 });
