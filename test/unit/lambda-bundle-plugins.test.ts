/**
 * scripts/lambda-bundle.mjs rewrites a few SDK modules to make the reconciler bundle smaller; these
 * tests bundle the same SDK code with and without a rewrite and compare what it computes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM build script without type declarations
import { partitionsWithoutDescriptions, pureSdkSchemas } from '../../scripts/lambda-bundle.mjs';

const root = resolve(__dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'tripod-bundle-plugins-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Bundles `source` (resolved from the repository) into a module file and imports it. */
async function load(name: string, source: string, plugins: Plugin[]) {
  const outfile = join(work, `${name}.mjs`);
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    mainFields: ['module', 'main'],
    outfile,
    write: false,
    plugins,
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]!.text;
  writeFileSync(outfile, text);
  return { module: await import(pathToFileURL(outfile).href), text };
}

// Serializes every EC2 request structure, each filled with a value in every member (nested to a
// depth), the way the EC2 client does (AwsEc2QueryProtocol's query serializer).
const EC2_REQUESTS = `
import * as ec2 from '@aws-sdk/client-ec2';
import { AwsEc2QueryProtocol } from '@aws-sdk/core/protocols';
import { NormalizedSchema } from '@smithy/core/schema';

function sample(ns, depth) {
  if (depth > 6) return undefined;
  if (ns.isBlobSchema()) return new Uint8Array([1, 2, 3]);
  if (ns.isTimestampSchema()) return new Date(0);
  if (ns.isBooleanSchema()) return true;
  if (ns.isBigIntegerSchema()) return 7n;
  if (ns.isNumericSchema()) return 7;
  if (ns.isStringSchema()) return 'v';
  if (ns.isListSchema()) {
    const v = sample(ns.getValueSchema(), depth + 1);
    return v === undefined ? undefined : [v, v];
  }
  if (ns.isMapSchema()) {
    const v = sample(ns.getValueSchema(), depth + 1);
    return v === undefined ? undefined : { k: v };
  }
  if (ns.isStructSchema()) {
    const out = {};
    for (const [name, member] of ns.structIterator()) {
      const v = sample(member, depth + 1);
      if (v !== undefined) out[name] = v;
      if (ns.isUnionSchema() && v !== undefined) break;
    }
    return out;
  }
  return undefined;
}

export function serializeAll() {
  const out = {};
  for (const [name, schema] of Object.entries(ec2)) {
    if (!name.endsWith('Request$')) continue;
    const ns = NormalizedSchema.of(schema);
    if (!ns.isStructSchema()) continue;
    const protocol = new AwsEc2QueryProtocol({
      defaultNamespace: 'com.amazonaws.ec2',
      xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15',
      version: '2016-11-15',
    });
    protocol.serializer.write(schema, sample(ns, 0));
    out[name] = protocol.serializer.flush();
  }
  return out;
}
`;

describe('the Lambda bundle plugins', () => {
  it('EC2 serializes every request the same once the ec2QueryName traits equal to the capitalized xmlName are dropped', async () => {
    const plain = await load('ec2-plain', EC2_REQUESTS, []);
    const slim = await load('ec2-slim', EC2_REQUESTS, [pureSdkSchemas]);
    // Trait keys: computed (`[_eQN]: ...`, `_eQN = "ec2QueryName"`) in the SDK, inlined by the rewrite.
    const count = (text: string) => (text.match(/\[_eQN\d*\]:|"ec2QueryName":/g) ?? []).length;
    // The rewrite removed the traits (all but the few that differ from the xmlName)...
    expect(count(plain.text)).toBeGreaterThan(5000);
    expect(count(slim.text)).toBeLessThan(20);
    // ...and every request serializes to the same query string.
    const before = plain.module.serializeAll() as Record<string, string>;
    const after = slim.module.serializeAll() as Record<string, string>;
    expect(Object.keys(before).length).toBeGreaterThan(500);
    expect(before.RunInstancesRequest$).toContain('&NetworkInterface.1.PrivateIpAddresses.1.');
    expect(after).toEqual(before);
  }, 120_000);

  it('every region resolves to the same partition outputs without the region descriptions', async () => {
    const source = `
import { partition } from '@aws-sdk/core/client';
export { partition };
`;
    const plain = await load('partition-plain', source, []);
    const slim = await load('partition-slim', source, [partitionsWithoutDescriptions]);
    const regions = [...plain.text.matchAll(/"([a-z]{2}(?:-[a-z]+)+-\d+)": \{\s*"description"/g)].map(
      (m) => m[1]!,
    );
    expect(regions.length).toBeGreaterThan(30);
    expect(slim.text).not.toContain('"description"');
    for (const region of [...regions, 'xx-unknown-1', 'cn-future-9', 'us-gov-future-9']) {
      const { description: _description, ...outputs } = plain.module.partition(region);
      expect(slim.module.partition(region)).toEqual(outputs);
    }
  });
});
