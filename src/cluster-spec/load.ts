/**
 * cluster.yaml -> ClusterSpec. Every problem is reported at once as `file:LINE:COL field.path: message`;
 * nothing here throws for a user's mistake.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { overlaps, parseCidr } from './cidr.js';
import { closestMatch } from './did-you-mean.js';
import { zoneProblem } from './regions.js';
import { type ClusterSpec, clusterSpecSchema, DEFAULT_SCHEMES } from './schema.js';

export type FieldPath = ReadonlyArray<string | number>;

export interface SpecProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

export type LoadResult = { ok: true; spec: ClusterSpec } | { ok: false; problems: SpecProblem[] };

/** Renders `network.zones[1]`; a key that is not a plain name is quoted (`tags["a b"]`), so no key
 * (a newline, a backtick) reaches a message raw. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (!/^[A-Za-z0-9_][A-Za-z0-9_.:/-]*$/.test(seg)) out += `[${JSON.stringify(seg)}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(document)';
}

export function formatProblem(p: SpecProblem): string {
  return `${p.file}:${p.line}:${p.col} ${p.path}: ${p.message}`;
}

export class SpecError extends Error {
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SpecError';
  }
}

/** Parses and validates spec text. `file` is only used in messages. */
export function parseSpec(text: string, file = 'cluster.yaml'): LoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);

  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const { line, col } = at(e.pos[0]);
        return { file, line, col, path: '(yaml)', message: e.message.split('\n')[0]! };
      }),
    };
  }

  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (e) {
    // yaml refuses aliases that expand beyond its maxAliasCount (a "billion laughs" document)
    let offset = 0;
    visit(doc, {
      Alias(_, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const { line, col } = at(offset);
    return {
      ok: false,
      problems: [
        {
          file,
          line,
          col,
          path: '(yaml)',
          message: `${(e as Error).message}: its aliases expand to too many nodes; write the values out instead of aliasing them`,
        },
      ],
    };
  }
  const problems: SpecProblem[] = [];
  const report = (path: FieldPath, message: string, onKey = false) => {
    const offset = locate(doc.contents, path, onKey);
    const { line, col } = at(offset);
    problems.push({ file, line, col, path: formatPath(path), message });
  };

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    report([], 'the spec must be a YAML mapping with apiVersion, kind, name, region, ...');
    return { ok: false, problems };
  }

  const parsed = clusterSpecSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) reportIssue(issue, report);
  }
  crossFieldChecks(raw as Record<string, unknown>, report);

  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    return { ok: false, problems: dedupe(problems) };
  }
  return { ok: true, spec: parsed.data };
}

type Report = (path: FieldPath, message: string, onKey?: boolean) => void;

function reportIssue(issue: z.core.$ZodIssue, report: Report): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path);
    for (const key of issue.keys) {
      const guess = closestMatch(key, known);
      const hint = guess
        ? `: did you mean "${guess}"?`
        : known.length
          ? ` (known fields: ${known.join(', ')})`
          : '';
      report([...path, key], `unknown field "${key}"${hint}`, true);
    }
    return;
  }
  if (issue.code === 'invalid_key') {
    // a record key (tags): the key's own problems, at the key
    for (const inner of issue.issues) report(path, inner.message.replace(/^Invalid input: /, ''), true);
    return;
  }
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) report(path, 'is required', true);
    else {
      const got =
        issue.input === null
          ? 'nothing'
          : Array.isArray(issue.input)
            ? 'a list'
            : `${typeof issue.input} ${JSON.stringify(issue.input)}`;
      const hint =
        issue.expected === 'string' && typeof issue.input === 'number'
          ? ` (quote it: YAML reads ${issue.input} as a number)`
          : '';
      report(path, `must be ${article(issue.expected)}, got ${got}${hint}`);
    }
    return;
  }
  report(path, issue.message.replace(/^Invalid input: /, ''));
}

/** The cross-field rules the schema cannot express. Works on the raw value, so it runs even when the schema failed. */
function crossFieldChecks(raw: Record<string, unknown>, report: Report): void {
  const region = typeof raw.region === 'string' ? raw.region : undefined;
  const network = asRecord(raw.network);
  const zones = Array.isArray(network?.zones) ? (network.zones as unknown[]) : [];
  const seen = new Map<string, number>();
  zones.forEach((z, i) => {
    if (typeof z !== 'string') return;
    if (seen.has(z)) report(['network', 'zones', i], `duplicate zone ${z} (also at index ${seen.get(z)})`);
    else seen.set(z, i);
    const problem = region ? zoneProblem(region, z) : undefined;
    if (problem) report(['network', 'zones', i], problem);
  });

  if (network) {
    const hasCidr = network.cidr !== undefined;
    const hasVpc = network.vpcId !== undefined;
    if (hasCidr && hasVpc)
      report(['network', 'vpcId'], 'give either cidr (tripod creates the VPC) or vpcId, not both', true);
    if (!hasCidr && !hasVpc)
      report(['network'], 'give either cidr (tripod creates the VPC) or vpcId + subnets');
    const subnets = asRecord(network.subnets);
    const publicSubnets = asRecord(network.publicSubnets);
    if (hasCidr && subnets) report(['network', 'subnets'], 'subnets are only used with vpcId', true);
    if (hasCidr && publicSubnets)
      report(
        ['network', 'publicSubnets'],
        'publicSubnets are only used with vpcId (with cidr tripod makes them)',
        true,
      );
    const perZone = (field: 'subnets' | 'publicSubnets', given: Record<string, unknown>, what: string) => {
      for (const z of seen.keys()) {
        if (!(z in given)) report(['network', field], `missing ${what} for zone ${z}`, true);
      }
      for (const z of Object.keys(given)) {
        if (!seen.has(z))
          report(['network', field, z], `zone ${z} has a ${what} but is not in network.zones`, true);
      }
    };
    if (hasVpc) {
      if (!subnets)
        report(
          ['network', 'vpcId'],
          'an existing VPC needs subnets: one private subnet id per zone (nodes and the reconciler)',
          true,
        );
      else perZone('subnets', subnets, 'subnet');
      const facing = (['apiEndpoint', 'serviceEndpoint'] as const).filter(
        (k) => (asRecord(raw[k])?.scheme ?? DEFAULT_SCHEMES[k]) === 'internet-facing',
      );
      if (publicSubnets) {
        perZone('publicSubnets', publicSubnets, 'public subnet');
        for (const [z, id] of Object.entries(publicSubnets)) {
          if (subnets && subnets[z] === id)
            report(
              ['network', 'publicSubnets', z],
              `${String(id)} is also the private subnet of ${z}: nodes and the reconciler need a private subnet (through NAT), internet-facing load balancers a public one`,
            );
        }
      } else if (facing.length) {
        report(
          ['network', 'vpcId'],
          `${facing.map((k) => `${k}.scheme`).join(' and ')} is internet-facing: give network.publicSubnets, one public subnet id per zone (its load balancer cannot live in the private node subnets)`,
          true,
        );
      }
    }
    // The pod and service ranges must not overlap the VPC or each other (the VPC of vpcId: the plan).
    const range = (field: 'cidr' | 'pods' | 'services') =>
      typeof network[field] === 'string' ? parseCidr(network[field]) : undefined;
    const [vpc, pods, services] = [range('cidr'), range('pods'), range('services')];
    for (const [field, r] of [
      ['pods', pods],
      ['services', services],
    ] as const) {
      if (vpc && r && overlaps(vpc, r))
        report(
          ['network', field],
          `${r.text} overlaps the VPC ${vpc.text} (network.cidr): pod and service addresses must not be VPC addresses`,
        );
    }
    if (pods && services && overlaps(pods, services))
      report(['network', 'services'], `${services.text} overlaps network.pods ${pods.text}`);
  }

  const masters = asRecord(raw.masters);
  if (
    masters &&
    typeof masters.count === 'number' &&
    Number.isInteger(masters.count) &&
    masters.count % 2 === 0
  ) {
    report(
      ['masters', 'count'],
      `must be odd: ${masters.count} masters tolerate no more failures than ${masters.count - 1} (quorum ${masters.count / 2 + 1}), use ${masters.count - 1} or ${masters.count + 1}`,
    );
  }

  const workers = asRecord(raw.workers);
  if (workers) {
    const min = typeof workers.min === 'number' ? workers.min : 3;
    const max = typeof workers.max === 'number' ? workers.max : 6;
    const desired = typeof workers.desired === 'number' ? workers.desired : undefined;
    if (min > max) report(['workers', 'min'], `min (${min}) is greater than max (${max})`);
    if (desired !== undefined && (desired < min || desired > max)) {
      report(['workers', 'desired'], `desired (${desired}) must be between min (${min}) and max (${max})`);
    }
  }

  for (const key of ['apiEndpoint', 'serviceEndpoint'] as const) {
    const ep = asRecord(raw[key]);
    if (!ep) continue;
    if (ep.dnsName !== undefined && ep.hostedZoneId === undefined)
      report([key, 'dnsName'], 'a DNS name needs hostedZoneId, the Route 53 zone to create it in', true);
    if (ep.hostedZoneId !== undefined && ep.dnsName === undefined)
      report([key, 'hostedZoneId'], 'hostedZoneId without dnsName does nothing', true);
  }

  const service = asRecord(raw.serviceEndpoint);
  if (service && Array.isArray(service.ports)) {
    const ports = new Map<number, number>();
    const nodePorts = new Map<number, number>();
    service.ports.forEach((p, i) => {
      const r = asRecord(p);
      if (!r) return;
      if (typeof r.port === 'number') {
        if (ports.has(r.port))
          report(['serviceEndpoint', 'ports', i, 'port'], `port ${r.port} is listed twice`);
        else ports.set(r.port, i);
      }
      if (typeof r.nodePort === 'number') {
        if (nodePorts.has(r.nodePort))
          report(['serviceEndpoint', 'ports', i, 'nodePort'], `nodePort ${r.nodePort} is listed twice`);
        else nodePorts.set(r.nodePort, i);
      }
    });
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** Source offset of the node at `path` (its key when `onKey`), or of its nearest existing ancestor. */
function locate(root: unknown, path: FieldPath, onKey: boolean): number {
  let node = root as Node | null | undefined;
  let best = (node as Node | undefined)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return best;
      const key = pair.key as Node;
      if (last && onKey) return key.range?.[0] ?? best;
      const value = pair.value as Node | null;
      best = value?.range?.[0] ?? key.range?.[0] ?? best;
      if (!value) return key.range?.[0] ?? best;
      node = value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return best;
      best = item.range?.[0] ?? best;
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

/** The field names the schema knows at `path` (for "did you mean"). */
function knownKeysAt(path: FieldPath): string[] {
  let schema: unknown = clusterSpecSchema;
  for (const seg of path) {
    schema = unwrap(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (def.type === 'object') schema = (def.shape as Record<string, unknown>)[String(seg)];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else return [];
  }
  schema = unwrap(schema);
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { _zod?: { def?: Record<string, unknown> } } | undefined;
  for (let i = 0; i < 10 && s?._zod?.def; i++) {
    const def = s._zod.def;
    if (def.innerType) s = def.innerType as typeof s;
    else if (def.type === 'pipe') s = def.in as typeof s;
    else break;
  }
  return s;
}

function dedupe(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
