/**
 * infra/tripod-setup.yaml: cfn-lint passes, and each role allows exactly what its code calls.
 *  - The calls are read from the code as it ships: each entry point is bundled (tree-shaken, the SDK
 *    left external) and every `new XxxCommand(` that survives is mapped to its IAM action.
 *  - The reconciler role allows every call of the Lambda bundle and nothing else; the deploy role
 *    every call of the GitHub Action; the node role every `aws <service> <command>` of the node scripts.
 *  - No action anywhere is a wildcard.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type NodeRole, ROLE_SCRIPTS } from '../../src/bootstrap/render.js';
import { NODE_DETAIL_TYPES, NODE_EVENT_SOURCE } from '../../src/contract/protocol.js';
import { type Cfn, CLUSTER_TEMPLATE, cfnTags, cliOperation, TEMPLATE } from '../support/iam.js';

interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
}

function roleActions(template: Record<string, Cfn>, logicalId: string): string[] {
  const role = template.Resources[logicalId];
  expect(role?.Type, `${logicalId} in ${TEMPLATE}`).toBe('AWS::IAM::Role');
  const out: string[] = [];
  // A statement under Fn::If (its condition true) counts; so do the KMS key policy's statements that
  // name this role (the cluster key grants its use there, not in the role's policies).
  const unwrap = (s: Cfn): Statement => (s['Fn::If'] ? s['Fn::If'][1] : s);
  const keyStatements = Object.values<Cfn>(template.Resources)
    .filter((r) => r.Type === 'AWS::KMS::Key')
    .flatMap((r) => r.Properties.KeyPolicy.Statement as Cfn[])
    .filter((s) => [s.Principal?.AWS?.['Fn::GetAtt']].flat().join('.') === `${logicalId}.Arn`);
  for (const s of [
    ...(role.Properties.Policies ?? []).flatMap((p: Cfn) => p.PolicyDocument.Statement),
    ...keyStatements,
  ].map(unwrap)) {
    if (s.Effect !== 'Allow') continue;
    out.push(...(Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []));
  }
  return out;
}

const SDK_PREFIX: Record<string, string> = {
  '@aws-sdk/client-auto-scaling': 'autoscaling',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-elastic-load-balancing-v2': 'elasticloadbalancing',
  '@aws-sdk/client-eventbridge': 'events',
  '@aws-sdk/client-lambda': 'lambda',
  '@aws-sdk/client-route-53': 'route53',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-sts': 'sts',
};

/** SDK operations whose IAM action has another name, or needs more than one action. */
const IAM_ACTIONS: Record<string, string[]> = {
  'lambda:Invoke': ['lambda:InvokeFunction'],
  's3:ListObjectsV2': ['s3:ListBucket'],
  's3:HeadObject': ['s3:GetObject'],
  's3:HeadBucket': ['s3:ListBucket'],
  's3:DeleteObjects': ['s3:DeleteObject'],
  // Objects are SSE-KMS encrypted: reading needs kms:Decrypt, writing (multipart) a data key and Decrypt.
  's3:GetObject': ['s3:GetObject', 'kms:Decrypt'],
  's3:CopyObject': ['s3:GetObject', 's3:PutObject', 'kms:Decrypt', 'kms:GenerateDataKey'],
  's3:PutObject': ['s3:PutObject', 'kms:GenerateDataKey'],
  's3:CreateMultipartUpload': ['s3:PutObject', 'kms:GenerateDataKey', 'kms:Decrypt'],
  's3:UploadPart': ['s3:PutObject'],
  's3:CompleteMultipartUpload': ['s3:PutObject'],
  // lib-storage's Upload: PutObject or a multipart upload, aborted on failure.
  's3:Upload': ['s3:PutObject', 's3:AbortMultipartUpload', 'kms:GenerateDataKey', 'kms:Decrypt'],
  // Bucket settings: the IAM action names differ from the API's.
  's3:GetBucketEncryption': ['s3:GetEncryptionConfiguration'],
  's3:PutBucketEncryption': ['s3:PutEncryptionConfiguration'],
  's3:GetPublicAccessBlock': ['s3:GetBucketPublicAccessBlock'],
  's3:PutPublicAccessBlock': ['s3:PutBucketPublicAccessBlock'],
  's3:GetBucketLifecycleConfiguration': ['s3:GetLifecycleConfiguration'],
  's3:PutBucketLifecycleConfiguration': ['s3:PutLifecycleConfiguration'],
};

/** IAM actions of the SDK calls that survive tree shaking in the bundle of `entries`. */
async function sdkActions(entries: string[]): Promise<Set<string>> {
  const actions = new Set<string>();
  for (const entry of entries.filter((e) => existsSync(e))) {
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      minify: false,
      treeShaking: true,
      outfile: 'out.mjs',
      external: ['@aws-sdk/*', '@smithy/*'],
      logLevel: 'silent',
    });
    const code = r.outputFiles.find((f) => f.path.endsWith('.mjs'))!.text;
    const local = new Map<string, string>(); // local name -> `prefix:Operation`
    for (const m of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*"(@aws-sdk\/[^"]+)"/g)) {
      const pkg = m[2]!;
      const prefix = pkg === '@aws-sdk/lib-storage' ? 's3' : SDK_PREFIX[pkg];
      if (!prefix) continue;
      for (const spec of m[1]!
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const [imported, alias] = spec.split(/\s+as\s+/);
        const op = imported!.endsWith('Command')
          ? imported!.slice(0, -'Command'.length)
          : imported === 'Upload'
            ? 'Upload'
            : undefined;
        if (op) local.set((alias ?? imported)!, `${prefix}:${op}`);
      }
    }
    for (const m of code.matchAll(/new\s+(\w+)\s*\(/g)) {
      const call = local.get(m[1]!);
      if (call) for (const a of IAM_ACTIONS[call] ?? [call]) actions.add(a);
    }
  }
  return actions;
}

/** IAM actions of the `aws <service> <command>` calls in the node scripts of a role. */
function nodeScriptActions(role: NodeRole): Set<string> {
  const dir = 'src/bootstrap/scripts';
  const out = new Set<string>();
  if (!existsSync(dir)) return out;
  for (const f of ROLE_SCRIPTS[role]) {
    for (const m of readFileSync(`${dir}/${f}`, 'utf8').matchAll(
      /\baws\s+([a-z0-9]+)\s+([a-z][a-z0-9-]+)/g,
    )) {
      const { service, operation } = cliOperation(m[1]!, m[2]!, `${dir}/${f}`);
      out.add(`${service}:${operation}`);
    }
  }
  return out;
}

/** Fails with the whole list in the message (readable in CI), passes when it is empty. */
function expectNone(list: string[], what: string) {
  if (list.length > 0) throw new Error(`${what}: ${list.join(', ')}`);
}

describe(TEMPLATE, () => {
  let template: Record<string, Cfn>;
  beforeAll(() => {
    // The account stack and the per-cluster stack, their resources together (logical ids differ).
    const [setup, cluster] = [TEMPLATE, CLUSTER_TEMPLATE].map(
      (f) => parse(readFileSync(f, 'utf8'), { customTags: cfnTags }) as Record<string, Cfn>,
    );
    template = { ...setup, Resources: { ...setup!.Resources, ...cluster!.Resources } };
  });

  it('passes cfn-lint', () => {
    const r = spawnSync('.venv/bin/cfn-lint', ['infra/*.yaml'], { encoding: 'utf8', shell: false });
    const fallback = r.error
      ? spawnSync(
          '.venv/bin/cfn-lint',
          readdirSync('infra')
            .filter((f) => f.endsWith('.yaml'))
            .map((f) => `infra/${f}`),
          { encoding: 'utf8' },
        )
      : r;
    expect(fallback.error, 'cfn-lint is not installed: run `bash scripts/setup.sh`').toBeUndefined();
    expect(`${fallback.stdout}${fallback.stderr}`).toBe('');
    expect(fallback.status).toBe(0);
  });

  it('keeps the cluster key when the stack is deleted: the snapshots destroy keeps are encrypted with it', () => {
    expect(template.Resources.ClusterKey).toMatchObject({
      Type: 'AWS::KMS::Key',
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('allows no wildcard action and no NotAction', () => {
    for (const [id, r] of Object.entries<Cfn>(template.Resources)) {
      if (r.Type !== 'AWS::IAM::Role') continue;
      for (const p of r.Properties.Policies ?? []) {
        for (const s of p.PolicyDocument.Statement as Statement[]) {
          expect(s.NotAction, `${id}/${p.PolicyName}`).toBeUndefined();
        }
      }
      for (const a of roleActions(template, id))
        expect(a, `${id}: ${a}`).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
    }
  });

  it('the reconciler role allows every call of the Lambda and nothing more', async () => {
    const used = await sdkActions(['src/lambdas/reconciler.ts', 'src/lambdas/snapshot.ts']);
    expect(used.size).toBeGreaterThan(5);
    const allowed = new Set(roleActions(template, 'ReconcilerRole'));
    expectNone([...used].filter((a) => !allowed.has(a)).sort(), 'called by the Lambda but not allowed');
    // (KMS use follows from the SSM and S3 calls: test/integration/iam-contract.test.ts proves each key grant needed.)
    expectNone(
      [...allowed].filter((a) => !used.has(a) && !a.startsWith('kms:')).sort(),
      'allowed but never called by the Lambda',
    );
  });

  it('the deploy role allows every call of the GitHub Action', async () => {
    const used = await sdkActions(['src/action/index.ts']);
    expect(used.size).toBeGreaterThan(5);
    const allowed = new Set(roleActions(template, 'ApplyRole'));
    expectNone([...used].filter((a) => !allowed.has(a)).sort(), 'called by the Action but not allowed');
  });

  it('the node (master) role allows every AWS call of the master scripts', () => {
    const used = nodeScriptActions('master');
    expect(used.size).toBeGreaterThan(3);
    const allowed = new Set(roleActions(template, 'MasterRole'));
    expectNone(
      [...used].filter((a) => !allowed.has(a)).sort(),
      'called by the master scripts but not allowed',
    );
  });

  it('the node role may put exactly the tripod.node events the nodes send (Member Started, Node Ready)', () => {
    const statements = template.Resources.MasterRole.Properties.Policies.flatMap(
      (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
    ) as Array<Statement & { Condition?: Record<string, Record<string, unknown>> }>;
    const put = statements.filter((s) => [s.Action].flat().includes('events:PutEvents'));
    expect(put).toHaveLength(1);
    const eq = put[0]!.Condition?.['ForAllValues:StringEquals'] ?? {};
    expect(eq['events:source']).toBe(NODE_EVENT_SOURCE);
    expect([eq['events:detail-type']].flat().sort()).toEqual([...NODE_DETAIL_TYPES].sort());
  });

  it('the worker role allows every AWS call of the worker scripts and nothing more', () => {
    const used = nodeScriptActions('worker');
    expect(used.size).toBeGreaterThan(3);
    const allowed = new Set(roleActions(template, 'WorkerRole'));
    expectNone(
      [...used].filter((a) => !allowed.has(a)).sort(),
      'called by the worker scripts but not allowed',
    );
    expectNone(
      [...allowed].filter((a) => !used.has(a) && !a.startsWith('kms:')).sort(),
      'allowed but never called by the worker scripts',
    );
  });

  it('workers read only the join document: never the CA keys under pki/ or any other parameter', () => {
    const statements = template.Resources.WorkerRole.Properties.Policies.flatMap(
      (p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement,
    );
    const ssm = statements.filter((s: Statement) =>
      [s.Action].flat().some((a) => typeof a === 'string' && a.startsWith('ssm:')),
    );
    const resources = (s: Statement) =>
      [s.Resource].flat().map((r) => (typeof r === 'string' ? r : (r as { 'Fn::Sub': string })['Fn::Sub']));
    const reads = ssm.filter((s: Statement) => [s.Action].flat().some((a) => /^ssm:Get/.test(a as string)));
    const prefix =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings
      'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/tripod/${ClusterName}/';
    expect(reads.flatMap(resources)).toEqual([`${prefix}worker-join`]);
    for (const s of ssm) for (const r of resources(s)) expect(r).not.toMatch(/pki/);
    const writes = ssm.filter((s: Statement) => [s.Action].flat().includes('ssm:PutParameter'));
    expect(writes.flatMap(resources)).toEqual([`${prefix}workers/drained/*`]);
    const profile = template.Resources.WorkerInstanceProfile.Properties;
    expect(profile.Roles).toEqual([{ Ref: 'WorkerRole' }]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
    expect(profile.InstanceProfileName).toEqual({ 'Fn::Sub': 'tripod-${ClusterName}-worker' });
  });

  it('the apply role can only be assumed from the given repository branch or environment through GitHub OIDC', () => {
    const trust = template.Resources.ApplyRole.Properties.AssumeRolePolicyDocument.Statement[0];
    expect(trust.Action).toBe('sts:AssumeRoleWithWebIdentity');
    expect(trust.Condition.StringEquals['token.actions.githubusercontent.com:aud']).toBe('sts.amazonaws.com');
    expect(trust.Condition.StringLike).toBeUndefined();
    expect(trust.Condition.StringEquals['token.actions.githubusercontent.com:sub'][0]).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'Fn::Sub': 'repo:${GitHubRepository}:ref:${GitHubRef}',
    });
  });

  it('the example workflows assume exactly the plan and apply roles the account stack makes', () => {
    const names = [
      template.Resources.PlanRole.Properties.RoleName,
      template.Resources.ApplyRole.Properties.RoleName,
    ].map((n) =>
      (n['Fn::Sub'] as string).replace(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings
        '${RoleNamePrefix}',
        template.Parameters.RoleNamePrefix.Default,
      ),
    );
    for (const f of readdirSync('examples/workflows')) {
      const text = readFileSync(`examples/workflows/${f}`, 'utf8');
      for (const m of text.matchAll(/role-to-assume: arn:aws:iam::\d+:role\/([\w+=,.@-]+)/g))
        expect(names, `${f}: role ${m[1]}`).toContain(m[1]);
    }
  });
});
