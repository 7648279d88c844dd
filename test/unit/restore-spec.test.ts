/**
 * `etcd.autoRestore` is gone (issue 14, finding 6): nothing read it, and an automatic restore is not
 * something the reconciler can decide safely (it cannot tell "etcd is gone" from "I am cut off from
 * etcd", a restore rolls the data back to the snapshot, and shrinking the group is the operator's
 * call). A spec that still sets it is refused at its line, naming the field.
 */
import { describe, expect, it } from 'vitest';
import { formatProblem, parseSpec } from '../../src/cluster-spec/load.js';
import { MINIMAL_SPEC } from '../support/spec-text.js';

const spec = (etcd: string) => `${MINIMAL_SPEC}etcd:
${etcd}
`;

describe('etcd.autoRestore', () => {
  it('is refused with the file, line and field', () => {
    const r = parseSpec(spec('  autoRestore: true'), 'cluster.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map(formatProblem).join('\n')).toMatch(
      /cluster\.yaml:10:3 etcd\.autoRestore: unknown field "autoRestore"/,
    );
  });

  it('the backup settings stay', () => {
    const r = parseSpec(spec('  backupIntervalMinutes: 30'), 'cluster.yaml');
    expect(r.ok && r.spec.etcd).toMatchObject({ backupIntervalMinutes: 30, backupRetentionDays: 30 });
    expect(r.ok && 'autoRestore' in r.spec.etcd).toBe(false);
  });
});
