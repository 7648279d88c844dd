/**
 * IPv4 CIDR facts the spec needs: parsing, overlap, and the cluster's pod and service ranges
 * (`network.pods`, `network.services`), whose defaults are picked so that they never overlap the
 * VPC the spec creates (`network.cidr`) or each other. With `network.vpcId` the VPC's CIDR is only
 * known in AWS: the plan checks it (src/provision/plan.ts).
 */

/** `10.0.1.2` -> its unsigned 32-bit number (no check: callers pass addresses they parsed or made). */
export const ipv4ToNumber = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** The unsigned 32-bit number -> `10.0.1.2`. */
export const numberToIpv4 = (n: number): string =>
  [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

export interface Cidr {
  /** The network address as an unsigned 32-bit number (host bits cleared). */
  start: number;
  /** One past the last address. */
  end: number;
  prefix: number;
  text: string;
}

/** `10.0.0.0/16` -> its range, or undefined when it is not an IPv4 CIDR. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const ip = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const start = ip - (ip % size);
  return { start, end: start + size, prefix, text };
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.start < b.end && b.start < a.end;
}

/** Whether the address part has bits set beyond the prefix (`10.0.1.0/16`). */
export function hasHostBits(text: string): boolean {
  const c = parseCidr(text);
  if (!c) return false;
  return ipv4ToNumber(text.split('/')[0]!) !== c.start;
}

/**
 * Pod range candidates, first that fits wins. kube-controller-manager gives every node a /24 of it,
 * so it must be wider than /24.
 */
export const POD_CIDR_CANDIDATES = ['10.244.0.0/16', '172.20.0.0/16', '192.168.0.0/17'] as const;
/** Service range candidates: kubeadm's own default first. kube-apiserver refuses wider than /12. */
export const SERVICE_CIDR_CANDIDATES = ['10.96.0.0/12', '172.21.0.0/16', '192.168.128.0/20'] as const;

/** Prefix bounds (inclusive) of `network.pods` and `network.services`. */
export const POD_PREFIX = { min: 8, max: 22 } as const;
export const SERVICE_PREFIX = { min: 12, max: 24 } as const;

const firstFree = (candidates: readonly string[], taken: Array<Cidr | undefined>) =>
  candidates.find((c) => {
    const range = parseCidr(c)!;
    return taken.every((t) => !t || !overlaps(range, t));
  })!;

/**
 * The pod and service ranges of a cluster: the spec's, or defaults that overlap neither the VPC
 * tripod creates nor each other. Always found: the three candidates of a list sit in 10/8, 172/8
 * and 192/8, and each of the two ranges to avoid (a /16-/24 VPC, a /8-or-narrower user range) can
 * overlap at most one of them.
 */
export function clusterCidrs(network: {
  cidr?: string | undefined;
  pods?: string | undefined;
  services?: string | undefined;
}): {
  pods: string;
  services: string;
} {
  const vpc = network.cidr ? parseCidr(network.cidr) : undefined;
  const pods =
    network.pods ??
    firstFree(POD_CIDR_CANDIDATES, [vpc, network.services ? parseCidr(network.services) : undefined]);
  const services = network.services ?? firstFree(SERVICE_CIDR_CANDIDATES, [vpc, parseCidr(pods)]);
  return { pods, services };
}
