/**
 * "Every statement is needed": without any one Allow statement of a role (or of the cluster key
 * policy), some recorded call is denied. Shared by the two files that record calls:
 * test/integration/iam-contract.test.ts (apply, plan: the provisioner against moto; reconciler: the simulator)
 * and test/integration/bootstrap-bats.test.ts (master, worker: the node scripts' `aws` calls in the bats tests,
 * which run once, there).
 *
 * Each file checks the statements its roles own. That split loses nothing: a role's inline policy
 * only ever applies to that role's calls, and a key policy statement only to the principals it
 * names, so dropping a statement of one role can never deny another role's call.
 */
import { type Cfn, denials, type RecordedCall, type ResolvedTemplate, type RoleName } from './iam.js';

/** The roles whose calls test/integration/bootstrap-bats.test.ts records (the node scripts); all others are iam-contract's. */
export const NODE_ROLES: readonly RoleName[] = ['master', 'worker'];

export interface AllowStatement {
  /** `<logical id>/<Sid>` (MasterRole/NodeEvents, ClusterKey/MasterSecrets). */
  where: string;
  /** The roles it can grant to: its role, or the roles a key policy statement names as principal. */
  owners: RoleName[];
  statement: Cfn;
}

/** Our short name of a role's logical id (ReconcilerRole -> reconciler), as RecordedCall.role. */
const roleName = (logicalId: string): RoleName => logicalId.replace(/Role$/, '').toLowerCase();

/** The roles (short names) a key policy statement's principal names through `!GetAtt <Role>.Arn`. */
function principalRoles(where: string, st: Cfn): RoleName[] {
  const principals = [st.Principal?.AWS].flat();
  const roles = principals.map((p) => p?.['Fn::GetAtt']?.[0]).filter((id): id is string => !!id);
  if (roles.length === 0 || roles.length !== principals.length)
    throw new Error(`${where}: its principal is not (only) roles of the templates (!GetAtt <Role>.Arn)`);
  return roles.map(roleName);
}

/** Every Allow statement of the roles and of the key policy (but its administration), with where it is. */
export function allowStatements(t: Cfn[]): AllowStatement[] {
  const out: AllowStatement[] = [];
  for (const template of t)
    for (const [id, r] of Object.entries<Cfn>(template.Resources)) {
      if (r.Type === 'AWS::IAM::Role')
        for (const p of r.Properties.Policies ?? [])
          for (const st of p.PolicyDocument.Statement)
            if (st.Effect === 'Allow')
              out.push({ where: `${id}/${st.Sid}`, owners: [roleName(id)], statement: st });
      if (r.Type === 'AWS::KMS::Key')
        for (const st of r.Properties.KeyPolicy.Statement)
          if (st.Sid !== 'KeyAdministration')
            out.push({
              where: `${id}/${st.Sid}`,
              owners: principalRoles(`${id}/${st.Sid}`, st),
              statement: st,
            });
    }
  return out;
}

/**
 * The statements owned by `roles` (each owner among them) that no call of `recorded` needs: with the
 * statement dropped from the templates `load()` returns, no call is denied. `resolve` gives the
 * template a call was evaluated against (its run's region and cluster); `skip` are statements no
 * run records, each with the reason. A statement owned by these roles and others is an error: the
 * files' split could not decide it.
 */
export async function unneededStatements(o: {
  roles: readonly RoleName[];
  recorded: RecordedCall[];
  load: () => Cfn[];
  resolve: (c: RecordedCall, t: Cfn[]) => ResolvedTemplate;
  skip?: Record<string, string>;
}): Promise<string[]> {
  const mine = (s: AllowStatement) => s.owners.some((r) => o.roles.includes(r));
  const unused: string[] = [];
  for (const s of allowStatements(o.load())) {
    if (!mine(s) || o.skip?.[s.where]) continue;
    if (!s.owners.every((r) => o.roles.includes(r)))
      throw new Error(`${s.where} grants to ${s.owners.join(', ')}: not all of them are recorded here`);
    const actions = new Set([s.statement.Action].flat() as string[]);
    const relevant = o.recorded
      .map((c) => ({ ...c, checks: c.checks.filter((k) => actions.has(k.action)) }))
      .filter((c) => c.checks.length > 0);
    const found = await denialsWith(relevant, o.load, o.resolve, (t) => {
      const [id, sid] = s.where.split('/');
      for (const template of t) {
        const r = template.Resources[id!];
        if (!r) continue;
        const drop = (sts: Cfn[]) => sts.filter((st) => st.Sid !== sid);
        if (r.Type === 'AWS::KMS::Key')
          r.Properties.KeyPolicy.Statement = drop(r.Properties.KeyPolicy.Statement);
        else
          for (const p of r.Properties.Policies)
            p.PolicyDocument.Statement = drop(p.PolicyDocument.Statement);
      }
    });
    if (found.length === 0) unused.push(s.where);
  }
  return unused;
}

/** The denials of `recorded` (each against its run's template) with `edit` applied to the templates. */
async function denialsWith(
  recorded: RecordedCall[],
  load: () => Cfn[],
  resolve: (c: RecordedCall, t: Cfn[]) => ResolvedTemplate,
  edit: (t: Cfn[]) => void,
): Promise<string[]> {
  const t = load();
  edit(t);
  const groups = new Map<string, { t: ResolvedTemplate; calls: RecordedCall[] }>();
  for (const c of recorded) {
    const resolved = resolve(c, t);
    const key = `${c.region}/${resolved.roles.master?.arn}`;
    const g = groups.get(key) ?? { t: resolved, calls: [] };
    g.calls.push(c);
    groups.set(key, g);
  }
  const found: string[] = [];
  for (const g of groups.values()) found.push(...(await denials(g.t, g.calls)));
  return found;
}
