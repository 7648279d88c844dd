/**
 * Issue 15, findings 9 and 10: tag keys and values keep to AWS's tag character set (a value with a
 * newline, a workflow command or a code fence is refused at its line:column), and a YAML alias bomb
 * is a parse problem like any other, naming the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../src/cluster-spec/file.js';
import { formatProblem, parseSpec } from '../../src/cluster-spec/load.js';
import { AWS_TAG_CHARACTERS, tagTextProblem } from '../../src/cluster-spec/schema.js';
import { MINIMAL_SPEC } from '../support/spec-text.js';

const base = `${MINIMAL_SPEC}tags:
`;

function problems(text: string): string[] {
  const r = parseSpec(text, 'cluster.yaml');
  return r.ok ? [] : r.problems.map(formatProblem);
}

const tmp = mkdtempSync(join(tmpdir(), 'tripod-spec-tags-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('tags: AWS tag characters only', () => {
  it('a value with a newline is refused at its line:column', () => {
    expect(problems(`${base}  owner: "platform\\n::set-output name=x::y"\n`)).toEqual([
      `cluster.yaml:10:10 tags.owner: tag values may hold only letters, digits, spaces and _ . : / = + - @ (AWS's tag characters), not "\\n"`,
    ]);
  });

  it('a value that is a workflow command is refused', () => {
    expect(problems(`${base}  owner: "::add-mask::x"\n`)).toEqual([
      'cluster.yaml:10:10 tags.owner: a tag value must not start with "::" (a GitHub workflow command)',
    ]);
    expect(problems(`${base}  owner: "  ::error::x"\n`)).toHaveLength(1);
  });

  it('a value with a code fence, HTML or a table pipe is refused', () => {
    expect(problems(`${base}  owner: "x \`\`\`"\n`)[0]).toMatch(
      /^cluster.yaml:10:10 tags.owner: .* not "`"$/,
    );
    expect(problems(`${base}  owner: "<img src=x>"\n`)[0]).toMatch(/not "<"$/);
    expect(problems(`${base}  owner: "a | b"\n`)[0]).toMatch(/not "\|"$/);
    expect(problems(`${base}  owner: "100%"\n`)[0]).toMatch(/not "%"$/);
  });

  it('keys: the same characters, at most 128, not aws: or tripod: in any case; the error points at the key', () => {
    expect(problems(`${base}  "bad key!": x\n`)).toEqual([
      `cluster.yaml:10:3 tags["bad key!"]: tag keys may hold only letters, digits, spaces and _ . : / = + - @ (AWS's tag characters), not "!"`,
    ]);
    expect(problems(`${base}  AWS:owner: x\n`)).toEqual([
      'cluster.yaml:10:3 tags.AWS:owner: tag keys starting with aws: or tripod: are reserved',
    ]);
    expect(problems(`${base}  ${'k'.repeat(129)}: x\n`)[0]).toMatch(/^cluster.yaml:10:3 .*<=128 characters/);
    expect(problems(`${base}  "a\\nb": x\n`)[0]).toMatch(/^cluster.yaml:10:3 tags\["a\\nb"\]: /);
  });

  it('what AWS accepts passes: unicode letters, digits, spaces, _ . : / = + - @, an ARN, an empty value', () => {
    const r = parseSpec(
      `${base}  owner: "Équipe plateforme 2 @ paris"\n  cost-center: "cc/42=a+b_c.d:e-f"\n  creator: "arn:aws:iam::123456789012:role/x"\n  empty: ""\n`,
    );
    expect(r.ok).toBe(true);
  });

  it('the character set is the one AWS declares, minus line and paragraph separators', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const aws = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(s);
        const ours = AWS_TAG_CHARACTERS.test(s);
        if (ours) expect(aws).toBe(true);
        if (aws && !ours) expect(s).toMatch(/[\u2028\u2029]/);
      }),
    );
    expect(tagTextProblem('a\u2028b', 'value')).toMatch(/not U\+2028$/);
  });
});

describe('YAML alias bombs', () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    ...'bcdefghij'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghij'[i]}`).join(',')}]`),
  ].join('\n');

  it('is reported like other parse errors, at the first alias, naming the file', () => {
    expect(problems(bomb)).toEqual([
      'cluster.yaml:2:8 (yaml): Excessive alias count indicates a resource exhaustion attack: its aliases expand to too many nodes; write the values out instead of aliasing them',
    ]);
  });

  it('through loadSpecFile too (the CLI and the Action), with the file name', () => {
    const file = join(tmp, 'bomb.yaml');
    writeFileSync(file, bomb);
    const r = loadSpecFile(file);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]!.file).toBe(file);
    expect(r.problems[0]!.message).toMatch(/resource exhaustion/);
  });
});
