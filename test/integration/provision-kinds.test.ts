/**
 * The resource kinds' order is derived (issue 17): each kind says what it depends on (`dependsOn`),
 * `orderKinds` sorts them topologically, and the references found in the desired resources of real
 * specs are all covered by those declarations. Adding a kind is listing it in KINDS, anywhere.
 */
import { describe, expect, it } from 'vitest';
import { desiredCluster } from '../../src/provision/desired.js';
import { KINDS } from '../../src/provision/plan.js';
import { type Desired, orderKinds, type ResourceKind } from '../../src/provision/resource.js';
import { exampleSpec } from '../support/provision-support.js';

const specs = {
  'three zones, tripod makes the network': exampleSpec('examples/three-zones.yaml', []),
  'four zones, an existing network': exampleSpec('examples/four-zones.yaml', []),
};

/** Every kind a kind depends on, directly or through others. */
function dependencies(kind: ResourceKind): Set<ResourceKind> {
  const all = new Set<ResourceKind>();
  const visit = (k: ResourceKind) => {
    for (const d of k.dependsOn) {
      if (all.has(d)) continue;
      all.add(d);
      visit(d);
    }
  };
  visit(kind);
  return all;
}

/** The keys of other desired resources a value names anywhere inside it (its references). */
function referencedKeys(value: unknown, keys: ReadonlySet<string>): string[] {
  if (typeof value === 'string') return keys.has(value) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((v) => referencedKeys(v, keys));
  if (value && typeof value === 'object') return Object.values(value).flatMap((v) => referencedKeys(v, keys));
  return [];
}

const fakeKind = (kind: string, dependsOn: ResourceKind[] = []): ResourceKind => ({
  kind,
  group: 'test',
  dependsOn,
  find: async () => [],
  compare: () => ({ changes: [] }),
  create: async () => {
    throw new Error('not in this test');
  },
  update: async () => undefined,
  delete: async () => {},
});

describe('the order of the resource kinds', () => {
  it('puts every kind after every kind it depends on', () => {
    KINDS.forEach((kind, i) => {
      for (const d of kind.dependsOn)
        expect(KINDS.indexOf(d), `${d.kind} before ${kind.kind}`).toBeLessThan(i);
    });
    expect(new Set(KINDS.map((k) => k.kind)).size).toBe(KINDS.length);
  });

  it('keeps the groups last: the configuration, the reconciler and its rules exist before a master launches', () => {
    const groups = KINDS.find((k) => k.kind === 'auto-scaling-group')!;
    const before = new Set([...dependencies(groups)].map((k) => k.kind));
    for (const k of ['parameter', 'function', 'event-rule', 'launch-template', 'target-group'])
      expect(before).toContain(k);
  });

  it('keeps the groups last whatever order the kinds are listed in (a node boots into a finished cluster)', () => {
    // The groups depend on every other kind but their pool: routes, rules, the API listener and DNS
    // name included, so no listing can launch a master before them (nor destroy them under it).
    const groups = KINDS.find((k) => k.kind === 'auto-scaling-group')!;
    const before = new Set([...dependencies(groups)].map((k) => k.kind));
    const others = KINDS.map((k) => k.kind).filter((k) => k !== 'auto-scaling-group' && k !== 'warm-pool');
    expect(others.filter((k) => !before.has(k))).toEqual([]);
    for (const listed of [[...KINDS].reverse(), [...KINDS].sort((a, b) => a.kind.localeCompare(b.kind))])
      expect(
        orderKinds(listed)
          .slice(-2)
          .map((k) => k.kind),
      ).toEqual(['auto-scaling-group', 'warm-pool']);
  });

  for (const [name, spec] of Object.entries(specs)) {
    it(`covers every reference between the desired resources (${name})`, () => {
      const resources: Desired[] = desiredCluster(spec, { accountId: '123456789012' }).resources;
      const byKey = new Map(resources.map((r) => [r.key, r]));
      const kindOf = (name: string) => KINDS.find((k) => k.kind === name)!;
      const undeclared: string[] = [];
      let references = 0;
      for (const r of resources) {
        expect(kindOf(r.kind), `${r.key}'s kind ${r.kind} is in KINDS`).toBeDefined();
        const deps = dependencies(kindOf(r.kind));
        for (const key of referencedKeys(r.value, new Set(byKey.keys()))) {
          references++;
          const target = kindOf(byKey.get(key)!.kind);
          if (key !== r.key && !deps.has(target))
            undeclared.push(`${r.key} (${r.kind}) -> ${key} (${target.kind})`);
        }
      }
      expect(undeclared).toEqual([]);
      // References are named by key: finding none means that changed, and the check above saw nothing.
      expect(references).toBeGreaterThan(resources.length / 2);
    });
  }

  it('puts every kind after its dependencies whatever order the kinds are listed in', () => {
    const orders = [[...KINDS].reverse(), [...KINDS].sort((a, b) => a.kind.localeCompare(b.kind))];
    for (const listed of orders) {
      const ordered = orderKinds(listed);
      ordered.forEach((kind, i) => {
        for (const d of kind.dependsOn) expect(ordered.indexOf(d)).toBeLessThan(i);
      });
    }
  });

  it('places a new kind after what it depends on without any hand-kept order', () => {
    const groups = KINDS.find((k) => k.kind === 'auto-scaling-group')!;
    const extra = fakeKind('new-kind', [groups]);
    const ordered = orderKinds([extra, ...KINDS]);
    expect(ordered.indexOf(extra)).toBeGreaterThan(ordered.indexOf(groups));
  });

  it('refuses a circle and a dependency that is not listed', () => {
    const a = fakeKind('a');
    const b = fakeKind('b', [a]);
    (a.dependsOn as ResourceKind[]).push(b);
    expect(() => orderKinds([a, b])).toThrow(/circle: a, b/);
    expect(() => orderKinds([fakeKind('c', [fakeKind('d')])])).toThrow(/c depends on d, which is not listed/);
  });
});
