// esbuild options for the reconciler Lambda bundle (used by build.mjs and bench/lambda.ts).
// Size measures on top of esbuild's tree shaking (1.5 MB -> see bench/lambda.ts), each a plugin below
// with its reason (the schema rewrite, SDK modules Lambda never runs, per-client copies); the main ones:
//  - pureSdkSchemas: the SDK clients' schema modules write keys as `{ [_xN]: _y }` with the key in a
//    module constant; esbuild cannot prove a computed key pure, so it keeps every schema of the
//    service (EC2: 540 KB). Inlining the constant keys lets it drop the unused ones. Same values.
//    It also drops the registration of the service's modeled errors (SSM: 140 classes, ~40 KB): an
//    unregistered error still arrives as the service's base exception with the AWS error code as its
//    `name` and AWS's message, which is all tripod reads (errors.ts). And it drops EC2's ec2QueryName
//    traits that repeat the member's capitalized xmlName (dropDefaultEc2QueryNames: ~6 KB).
//  - the default credential chain is replaced with environment credentials (src/lambdas/env-credentials.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * The SDK clients import their whole package.json (~2 KB each, once per client) for one field: the
 * version in the user agent. Only that field is kept.
 */
export const sdkPackageVersion = {
  name: 'sdk-package-version',
  setup(build) {
    build.onLoad({ filter: /@aws-sdk[\\/]client-[^\\/]+[\\/]package\.json$/ }, (args) => {
      const { version } = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify({ version }), loader: 'json' };
    });
  },
};

/**
 * Smithy's Sha256Node falls back to a pure-JavaScript SHA-256 when node:crypto has none; Lambda's
 * Node always has it (FIPS mode included), so the fallback is replaced by a class that says so.
 */
export const nativeSha256Only = {
  name: 'native-sha256-only',
  setup(build) {
    build.onLoad({ filter: /@smithy[\\/]core[\\/]dist-es[\\/].*[\\/]sha256[\\/]Sha256Js\.js$/ }, () => ({
      contents: "export class Sha256Js { constructor() { throw new Error('node:crypto has no sha256'); } }\n",
      loader: 'js',
    }));
  },
};

/**
 * EC2's schemas give most structure members both traits `{ ec2QueryName: 'Foo', xmlName: 'foo' }`
 * (~6,000 members, 203 of them in the DescribeInstances output: ~6 KB of the bundle). The
 * ec2QueryName trait applies to structure members only (Smithy: `structure > member`), and the query
 * serializer (`QueryShapeSerializer.getKey`) names such a member by its ec2QueryName, else by its
 * xmlName with the first letter upper-cased; the XML deserializer reads xmlName only. So an
 * ec2QueryName equal to the member's own capitalized xmlName says nothing: it is dropped. Members
 * whose ec2QueryName differs (e.g. `Ipv6Addresses` / `ipv6AddressesSet`) keep it.
 */
export function dropDefaultEc2QueryNames(text, consts) {
  const key = (value) => [...consts].find(([, v]) => v === JSON.stringify(value))?.[0];
  const ec2QueryName = key('ec2QueryName');
  const xmlName = key('xmlName');
  if (!ec2QueryName || !xmlName) return text;
  const member = new RegExp(`\\{ \\[${ec2QueryName}\\]: \`(\\w+)\`,(\\s*)\\[${xmlName}\\]: (_\\w+) \\}`, 'g');
  return text.replace(member, (all, queryName, _space, xmlConst) => {
    const xml = consts.has(xmlConst) ? JSON.parse(consts.get(xmlConst)) : undefined;
    if (typeof xml !== 'string' || xml.length === 0) return all;
    return xml[0].toUpperCase() + xml.slice(1) === queryName ? `{ [${xmlName}]: ${xmlConst} }` : all;
  });
}

/**
 * SignatureV4's HeaderFormatter encodes event-stream message headers for `signMessage`, which only
 * event-stream operations call; the bundle without event streams (index.mjs: see `external`) never
 * signs a message, so the class is replaced by one that says so if it ever is (~4 KB).
 */
export const noEventStreamSigning = {
  name: 'no-event-stream-signing',
  setup(build) {
    build.onLoad({ filter: /@smithy[\\/]signature-v4[\\/]dist-es[\\/]HeaderFormatter\.js$/ }, () => ({
      contents:
        "export class HeaderFormatter { format() { throw new Error('event-stream signing is not in this bundle'); } }\n",
      loader: 'js',
    }));
  },
};

/**
 * The endpoint resolver's partition table names every region (`"af-south-1": { "description":
 * "Africa (Cape Town)" }`); the rule sets read a partition's outputs (dnsSuffix, supportsFIPS, ...),
 * never a description, so the descriptions are dropped (~2 KB). The regions stay.
 */
export const partitionsWithoutDescriptions = {
  name: 'partitions-without-descriptions',
  setup(build) {
    build.onLoad(
      {
        filter: /@aws-sdk[\\/]core[\\/]dist-es[\\/].*[\\/]util-endpoints[\\/]lib[\\/]aws[\\/]partitions\.js$/,
      },
      (args) => ({
        contents: readFileSync(args.path, 'utf8').replace(/"description": "[^"\n]*"/g, ''),
        loader: 'js',
      }),
    );
  },
};

/**
 * The SDK asks the EC2 instance metadata service for a region only when none is configured (the
 * clients are given one: src/adapters/aws/clients.ts) or in the `auto` defaults mode off Lambda
 * (on Lambda it reads AWS_EXECUTION_ENV and AWS_REGION). Lambda has no metadata service, so the
 * lookup could only time out there: it answers "no region" at once, as a failed lookup does (~1 KB).
 */
export const noInstanceMetadataRegion = {
  name: 'no-instance-metadata-region',
  setup(build) {
    build.onLoad(
      { filter: /@smithy[\\/]core[\\/]dist-es[\\/].*[\\/]regionConfig[\\/]getInstanceMetadataRegion\.js$/ },
      () => ({ contents: 'export const getInstanceMetadataRegion = async () => undefined;\n', loader: 'js' }),
    );
  },
};

/**
 * Every SDK client carries its own copy of two small modules that are byte for byte the same in each
 * client (no module state: functions that copy the auth scheme settings to and from the runtime
 * extension configuration). A client's relative import of one of them resolves to the first client's
 * copy when both clients' copies of both modules are identical, so the bundle holds them once instead
 * of once per client (~1.8 KB for four clients). runtimeExtensions.js also imports packages by bare
 * name (@aws-sdk/core/client, @smithy/core/client, ...), which resolve from the directory of the copy
 * bundled: a client with packages of its own (a nested node_modules, as npm installs when clients need
 * different versions) keeps its own copy, and none is shared with it
 * (test/unit/lambda-bundle-shared-modules.test.ts).
 */
const SHARED_CLIENT_MODULES = ['runtimeExtensions.js', 'auth/httpAuthExtensionConfiguration.js'];
export const sharedClientModules = {
  name: 'shared-client-modules',
  setup(build) {
    // dist-es's package has a node_modules of its own: its bare imports resolve apart from the others'.
    const ownPackages = (dist) => existsSync(join(dist, '..', 'node_modules'));
    const sameCopies = (a, b) =>
      !ownPackages(a) &&
      !ownPackages(b) &&
      SHARED_CLIENT_MODULES.every((m) => {
        const [x, y] = [join(a, m), join(b, m)];
        return existsSync(x) && existsSync(y) && readFileSync(x).equals(readFileSync(y));
      });
    const canonical = new Map();
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const client = /^(.*[\\/]@aws-sdk[\\/])client-[^\\/]+[\\/]dist-es[\\/]/.exec(args.importer);
      if (!client) return undefined;
      const file = `${resolve(args.resolveDir, args.path)}.js`;
      const dist = client[0].slice(0, -1);
      const module = relative(dist, file).split('\\').join('/');
      if (!SHARED_CLIENT_MODULES.includes(module)) return undefined;
      if (!canonical.has(dist)) {
        const first = readdirSync(client[1])
          .filter((d) => d.startsWith('client-'))
          .sort()
          .map((d) => join(client[1], d, 'dist-es'))
          .find((d) => sameCopies(d, dist));
        canonical.set(dist, first ?? dist);
      }
      return { path: join(canonical.get(dist), module) };
    });
  },
};

export const pureSdkSchemas = {
  name: 'pure-sdk-schemas',
  setup(build) {
    build.onLoad(
      { filter: /@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ },
      (args) => {
        const text = readFileSync(args.path, 'utf8');
        const consts = new Map(
          [...text.matchAll(/^const (_\w+) = ("[^"\n]*");$/gm)].map((m) => [m[1], m[2]]),
        );
        const contents = dropDefaultEc2QueryNames(text, consts)
          .replace(/\[(_\w+)\]:/g, (all, name) => (consts.has(name) ? `${consts.get(name)}:` : all))
          .replace(/^n0_registry\.registerError\(\w+\$, \w+\);$/gm, '');
        return { contents, loader: 'js' };
      },
    );
  },
};

/** Options for the optimized bundle (root: the repository). */
export function lambdaBundleOptions(root = '.', { eventStreams = false } = {}) {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Lambda nodejs22.x (arm64: the bundle is plain JavaScript, no native modules).
    target: 'node22',
    minify: true,
    legalComments: 'none',
    mainFields: ['module', 'main'],
    plugins: [
      pureSdkSchemas,
      sdkPackageVersion,
      nativeSha256Only,
      partitionsWithoutDescriptions,
      noInstanceMetadataRegion,
      sharedClientModules,
      ...(eventStreams ? [] : [noEventStreamSigning]),
    ],
    // Event streams are loaded lazily (a dynamic import) only for event-stream operations, which the
    // reconciler never calls (S3's client imports them statically: the snapshot module keeps them).
    // `bowser` is the SDK's browser user-agent parser (a dynamic import never taken on Node).
    external: eventStreams ? ['bowser'] : ['@smithy/core/event-streams', 'bowser'],
    alias: { '@aws-sdk/credential-provider-node': resolve(root, 'src/lambdas/env-credentials.ts') },
  };
}

/** The files of a built Lambda folder that go into its zip (code only, sorted: a reproducible zip). */
export function lambdaZipFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.mjs'))
    .sort()
    .map((f) => ({ name: relative(dir, join(dir, f)).split('\\').join('/'), path: join(dir, f) }));
}
