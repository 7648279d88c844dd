/**
 * The reconciler's JSON logs and EMF metrics (src/lambdas/telemetry.ts), checked against CloudWatch's
 * Embedded Metric Format specification: every dimension and metric a top-level member, at most 100
 * metrics per document, values a number or an array of at most 100 numbers, units it knows.
 */
import { describe, expect, it } from 'vitest';
import { createJsonTelemetry, EMF_MAX_METRICS } from '../../src/lambdas/telemetry.js';

const EMF_UNITS = new Set(['Count', 'Milliseconds', 'Seconds', 'Bytes', 'Percent', 'None']);

/** What CloudWatch would refuse in an EMF document (the specification's rules we rely on). */
function emfProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const aws = doc._aws as { Timestamp: unknown; CloudWatchMetrics: unknown[] } | undefined;
  if (!aws || typeof aws.Timestamp !== 'number') return ['no _aws.Timestamp (ms)'];
  for (const d of aws.CloudWatchMetrics as Array<{
    Namespace: string;
    Dimensions: string[][];
    Metrics: Array<{ Name: string; Unit: string }>;
  }>) {
    if (!d.Namespace) problems.push('no Namespace');
    if (d.Metrics.length > 100) problems.push(`${d.Metrics.length} metrics`);
    for (const set of d.Dimensions) {
      if (set.length > 30) problems.push('more than 30 dimensions');
      for (const k of set)
        if (typeof doc[k] !== 'string') problems.push(`dimension ${k} not a string member`);
    }
    for (const m of d.Metrics) {
      if (!EMF_UNITS.has(m.Unit)) problems.push(`unit ${m.Unit}`);
      const v = doc[m.Name];
      const ok =
        typeof v === 'number' ||
        (Array.isArray(v) && v.length <= 100 && v.every((x) => typeof x === 'number'));
      if (!ok) problems.push(`metric ${m.Name} value ${JSON.stringify(v)}`);
    }
  }
  return problems;
}

function capture(env: NodeJS.ProcessEnv = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const t = createJsonTelemetry({
    service: 'svc',
    namespace: 'tripod',
    env,
    now: () => 1_700_000_000_000,
    write: (l) => lines.push(JSON.parse(l)),
  });
  return { t, lines };
}

describe('reconciler telemetry', () => {
  it('writes one JSON line per log with level, message, time, service, the appended keys and extra', () => {
    const { t, lines } = capture({ _X_AMZN_TRACE_ID: 'Root=1-abc;Parent=2;Sampled=1' });
    t.appendKeys({ cluster: 'c1', trigger: 'schedule' });
    t.info('pass', { actions: 2 });
    t.removeKeys(['trigger']);
    t.error('failed', { error: new Error('boom') });
    expect(lines[0]).toEqual({
      level: 'INFO',
      message: 'pass',
      timestamp: '2023-11-14T22:13:20.000Z',
      service: 'svc',
      xray_trace_id: '1-abc',
      cluster: 'c1',
      trigger: 'schedule',
      actions: 2,
    });
    expect(lines[1]).not.toHaveProperty('trigger');
    expect(lines[1]!.error).toMatchObject({ name: 'Error', message: 'boom' });
  });

  it("follows Lambda's log level (AWS_LAMBDA_LOG_LEVEL), and refuses an unknown one by name", () => {
    const { t, lines } = capture({ AWS_LAMBDA_LOG_LEVEL: 'WARN' });
    t.debug('d');
    t.info('i');
    t.warn('w');
    expect(lines.map((l) => l.level)).toEqual(['WARN']);
    const debug = capture({ TRIPOD_LOG_LEVEL: 'debug' });
    debug.t.debug('d');
    expect(debug.lines).toHaveLength(1);
    expect(() => capture({ TRIPOD_LOG_LEVEL: 'LOUD' })).toThrow(/LOUD.*TRIPOD_LOG_LEVEL/);
  });

  it('flushes the metrics as EMF with the service and cluster dimensions, repeated values as an array', () => {
    const { t, lines } = capture();
    t.metric('PassDuration', 'Milliseconds', 120);
    t.metric('Actions', 'Count', 1);
    t.metric('Actions', 'Count', 2);
    t.flushMetrics('c1');
    expect(lines).toHaveLength(1);
    expect(emfProblems(lines[0]!)).toEqual([]);
    expect(lines[0]).toMatchObject({ service: 'svc', cluster: 'c1', PassDuration: 120, Actions: [1, 2] });
    t.flushMetrics('c1');
    expect(lines).toHaveLength(1);
  });

  it('splits more than 100 metrics into several documents, each valid EMF', () => {
    const { t, lines } = capture();
    for (let i = 0; i < EMF_MAX_METRICS + 5; i++) t.metric(`M${i}`, 'Count', i);
    t.flushMetrics(undefined);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(emfProblems(l)).toEqual([]);
  });

  it('refuses a metric whose unit changes or whose value is not a finite number', () => {
    const { t } = capture();
    t.metric('X', 'Count', 1);
    expect(() => t.metric('X', 'Milliseconds', 1)).toThrow(/unit/);
    expect(() => t.metric('Y', 'Count', Number.NaN)).toThrow(/finite/);
  });

  it('writes no EMF when TRIPOD_METRICS_DISABLED=true', () => {
    const { t, lines } = capture({ TRIPOD_METRICS_DISABLED: 'true' });
    t.metric('X', 'Count', 1);
    t.flushMetrics('c');
    expect(lines).toHaveLength(0);
  });
});
