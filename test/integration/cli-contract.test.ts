/**
 * The CLI's contract (issue 17, one CLI): usage errors exit 64 (2 is only plan --detailed-exitcode's
 * "changes"), unknown flags and commands get a did-you-mean, the spec may be the argument, deprecated
 * spellings warn and still work, environment settings are refused like bad flags. No AWS here: these
 * all stop before a call (cli-json.test.ts runs the JSON output against moto).
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FORMAT_VERSION } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands.js';
import { main } from '../../src/cli/main.js';
import { VERSION } from '../../src/version.js';

async function run(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const AWS_COMMANDS = ['plan', 'apply', 'destroy', 'upgrade', 'status', 'kubeconfig', 'backups', 'restore'];

describe('usage errors exit 64', () => {
  it('tripod plan --bogus exits 64 and points at the help', async () => {
    const r = await run('plan', '--bogus');
    expect(r.code).toBe(64);
    expect(r.err).toContain("tripod plan: unknown option '--bogus'");
    expect(r.err).toContain('Run `tripod plan --help` for its options.');
    expect(r.out).toBe('');
  });

  it('every command refuses an unknown flag with 64', async () => {
    for (const c of commands) expect((await run(c.name, '--no-such-flag')).code, c.name).toBe(64);
  });

  it('an unknown flag close to a real one gets a did-you-mean; an unknown command too', async () => {
    expect((await run('plan', '--endpont-url', 'http://127.0.0.1:1')).err).toContain(
      "unknown option '--endpont-url': did you mean --endpoint-url?",
    );
    expect((await run('status', '--fromat', 'json')).err).toContain('did you mean --format?');
    const r = await run('valdate');
    expect(r.code).toBe(64);
    expect(r.err).toContain("unknown command 'valdate': did you mean validate?");
  });

  it('a bad --format value, an extra argument and no command at all are usage errors', async () => {
    const bad = await run('validate', 'examples/three-zones.yaml', '--format', 'xml');
    expect(bad.code).toBe(64);
    expect(bad.err).toContain('--format must be one of text, json, markdown, mermaid');
    expect((await run('validate', 'a.yaml', 'b.yaml')).code).toBe(64);
    const none = await run();
    expect(none.code).toBe(64);
    expect(none.err).toMatch(/^Usage: tripod <command> \[options\]/);
  });

  it('--help, help <command> and --version exit 0', async () => {
    expect((await run('--help')).code).toBe(0);
    const h = await run('help', 'plan');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^Usage: tripod plan /);
    const v = await run('--version');
    expect(v).toEqual({ code: 0, out: VERSION, err: '' });
  });

  it('--detailed-exitcode is the only way to exit 2', async () => {
    for (const c of commands)
      for (const args of [['--bogus'], ['--format', 'nope']])
        expect((await run(c.name, ...args)).code, `${c.name} ${args.join(' ')}`).not.toBe(2);
  });
});

describe('the same flags everywhere', () => {
  it('every AWS command takes -f/--spec, the spec argument, --region and --endpoint-url', async () => {
    for (const name of AWS_COMMANDS) {
      const help = (await run(name, '--help')).out;
      for (const flag of ['-f, --spec <file>', '--region <region>', '--endpoint-url <url>'])
        expect(help, `${name} ${flag}`).toContain(flag);
      expect(help, name).toMatch(new RegExp(`^Usage: tripod ${name} \\[options\\] \\[spec\\]`));
    }
  });

  it('--format offers text first and json wherever a command prints a report', async () => {
    for (const name of ['validate', 'plan', 'apply', 'destroy', 'status', 'backups', 'sandbox']) {
      const help = (await run(name, '--help')).out;
      expect(help, name).toMatch(/--format <format>\s+(output format: )?text\b[^\n]*json/);
    }
  });

  it('no command still shows --file, --endpoint, --json or the value table in its help', async () => {
    for (const c of commands) {
      const help = (await run(c.name, '--help')).out;
      expect(help, c.name).not.toMatch(/--file\b|--endpoint\b(?!-url)|--json\b|\btable\b/);
    }
  });
});

describe('the spec as an argument', () => {
  it('tripod validate examples/four-zones.yaml reads that file (it used to read cluster.yaml)', async () => {
    const r = await run('validate', 'examples/four-zones.yaml', '--format', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ formatVersion: FORMAT_VERSION, valid: true, masters: 5 });
  });

  it('the argument and -f agreeing is fine; disagreeing is a usage error', async () => {
    expect((await run('validate', 'examples/four-zones.yaml', '-f', 'examples/four-zones.yaml')).code).toBe(
      0,
    );
    const r = await run('validate', 'examples/four-zones.yaml', '-f', 'examples/three-zones.yaml');
    expect(r.code).toBe(64);
    expect(r.err).toContain('the spec is given twice');
  });

  it('-f and --spec are the same flag; the argument reaches AWS commands too', async () => {
    const a = await run('validate', '--spec', 'examples/three-zones.yaml', '--format', 'json');
    expect(JSON.parse(a.out).masters).toBe(3);
    // --region is checked against the spec given as the argument, before any AWS call.
    const r = await run('plan', 'examples/three-zones.yaml', '--region', 'us-east-1');
    expect(r.code).toBe(64);
    expect(r.err).toContain(
      '--region us-east-1 disagrees with examples/three-zones.yaml (region: eu-west-1)',
    );
    const u = await run('upgrade', 'examples/three-zones.yaml', '--region', 'us-east-1');
    expect(u.code).toBe(64);
  });
});

describe('deprecated spellings warn and still work', () => {
  it('--file and --format table', async () => {
    const r = await run('validate', '--file', 'examples/three-zones.yaml', '--format', 'table');
    expect(r.code).toBe(0);
    expect(r.out).toContain('examples/three-zones.yaml is valid.');
    expect(r.err).toContain('tripod validate: --file is deprecated: use --spec');
    expect(r.err).toContain('tripod validate: --format table is deprecated: use --format text');
  });

  it('--file disagreeing with -f is refused', async () => {
    const r = await run('validate', '-f', 'examples/three-zones.yaml', '--file', 'examples/four-zones.yaml');
    expect(r.code).toBe(64);
    expect(r.err).toContain('--file and --spec disagree');
  });

  it('--endpoint is checked like --endpoint-url', async () => {
    const r = await run('backups', 'examples/three-zones.yaml', '--endpoint', 'not a url');
    expect(r.code).toBe(64);
    expect(r.err).toContain('--endpoint must be an http or https URL');
  });
});

describe('environment settings are validated like flags', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['TRIPOD_AWS_MAX_ATTEMPTS', 'AWS_ENDPOINT_URL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('a bad TRIPOD_AWS_MAX_ATTEMPTS exits 64 naming the variable (it used to become NaN)', async () => {
    for (const bad of ['abc', '0', '-1', '2.5', '1e3', '21']) {
      process.env.TRIPOD_AWS_MAX_ATTEMPTS = bad;
      const r = await run('plan', 'examples/three-zones.yaml', '--endpoint-url', 'http://127.0.0.1:9');
      expect(r.code, bad).toBe(64);
      expect(r.err, bad).toContain(
        `TRIPOD_AWS_MAX_ATTEMPTS must be a whole number from 1 to 20 (got "${bad}")`,
      );
    }
  });

  it('a bad AWS_ENDPOINT_URL exits 64; a good setting passes', async () => {
    process.env.AWS_ENDPOINT_URL = 'localhost:4566';
    expect((await run('validate', 'examples/three-zones.yaml')).code).toBe(64);
    delete process.env.AWS_ENDPOINT_URL;
    process.env.TRIPOD_AWS_MAX_ATTEMPTS = '7';
    expect((await run('validate', 'examples/three-zones.yaml')).code).toBe(0);
  });

  it('a real process exits 64 too', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', 'validate', 'examples/three-zones.yaml'],
      {
        env: { ...process.env, TRIPOD_AWS_MAX_ATTEMPTS: 'many' },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('TRIPOD_AWS_MAX_ATTEMPTS');
  });
});
