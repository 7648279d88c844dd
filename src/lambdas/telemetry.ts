/**
 * The reconciler's structured logs and metrics, written as lines on stdout (Lambda sends stdout to
 * CloudWatch Logs): one JSON object per log line, and metrics in CloudWatch's Embedded Metric Format
 * (EMF), which CloudWatch turns into metrics without an API call.
 *
 * This replaces Powertools Logger and Metrics in the bundle (~31 KB of 336 KB, issue 18): the handler
 * uses five calls of them, and both formats are documented and small:
 *  - EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 *    (`_aws.Timestamp` in ms, `CloudWatchMetrics[].Namespace/Dimensions/Metrics`, every dimension and
 *    metric name a top-level member, at most 100 metrics per document and 30 dimensions per set,
 *    a metric's value a number or an array of up to 100 numbers).
 *  - log level: AWS_LAMBDA_LOG_LEVEL (Lambda's own log-level setting) or TRIPOD_LOG_LEVEL, default INFO.
 */
import type { Telemetry } from './reconciler-handler.js';

export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** EMF's limits (the specification above). */
export const EMF_MAX_METRICS = 100;
export const EMF_MAX_VALUES = 100;

export interface JsonTelemetryOptions {
  service: string;
  namespace: string;
  env?: NodeJS.ProcessEnv;
  write?: (line: string) => void;
  now?: () => number;
}

export type JsonTelemetry = Telemetry & { debug(message: string, extra?: Record<string, unknown>): void };

function levelOf(env: NodeJS.ProcessEnv): LogLevel {
  const raw = (env.AWS_LAMBDA_LOG_LEVEL || env.TRIPOD_LOG_LEVEL || 'INFO').toUpperCase();
  // Lambda's levels include TRACE (below DEBUG) and FATAL (above ERROR).
  if (raw === 'TRACE') return 'DEBUG';
  if (raw === 'FATAL') return 'ERROR';
  if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
    throw new Error(
      `log level ${raw} (AWS_LAMBDA_LOG_LEVEL/TRIPOD_LOG_LEVEL): one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return raw as LogLevel;
}

/** Errors as {name, message, stack} (JSON.stringify would write {}). */
const replacer = (_key: string, value: unknown) =>
  value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;

export function createJsonTelemetry(options: JsonTelemetryOptions): JsonTelemetry {
  const env = options.env ?? process.env;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  const threshold = LOG_LEVELS.indexOf(levelOf(env));
  const metricsOff = env.TRIPOD_METRICS_DISABLED === 'true';
  const keys: Record<string, unknown> = {};
  const units = new Map<string, 'Count' | 'Milliseconds'>();
  const values = new Map<string, number[]>();

  const log = (level: LogLevel, message: string, extra?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const trace = env._X_AMZN_TRACE_ID;
    write(
      JSON.stringify(
        {
          level,
          message,
          timestamp: new Date(now()).toISOString(),
          service: options.service,
          ...(trace ? { xray_trace_id: trace.split(';')[0]?.replace('Root=', '') } : {}),
          ...keys,
          ...extra,
        },
        replacer,
      ),
    );
  };

  return {
    debug: (m, extra) => log('DEBUG', m, extra),
    info: (m, extra) => log('INFO', m, extra),
    warn: (m, extra) => log('WARN', m, extra),
    error: (m, extra) => log('ERROR', m, extra),
    appendKeys: (k) => Object.assign(keys, k),
    removeKeys: (names) => {
      for (const n of names) delete keys[n];
    },
    metric: (name, unit, value) => {
      const known = units.get(name);
      if (known && known !== unit) throw new Error(`metric ${name}: unit ${unit}, already ${known}`);
      if (!Number.isFinite(value)) throw new Error(`metric ${name}: ${value} is not a finite number`);
      units.set(name, unit);
      values.set(name, [...(values.get(name) ?? []), value]);
    },
    flushMetrics: (cluster) => {
      if (values.size === 0) return;
      const names = [...values.keys()];
      const timestamp = now();
      const dimensions = { service: options.service, ...(cluster ? { cluster } : {}) };
      if (!metricsOff) {
        for (let i = 0; i < names.length; i += EMF_MAX_METRICS) {
          const chunk = names.slice(i, i + EMF_MAX_METRICS);
          const members: Record<string, number | number[]> = {};
          for (const n of chunk) {
            const v = values.get(n)!.slice(-EMF_MAX_VALUES);
            members[n] = v.length === 1 ? v[0]! : v;
          }
          write(
            JSON.stringify({
              _aws: {
                Timestamp: timestamp,
                CloudWatchMetrics: [
                  {
                    Namespace: options.namespace,
                    Dimensions: [Object.keys(dimensions)],
                    Metrics: chunk.map((n) => ({ Name: n, Unit: units.get(n)! })),
                  },
                ],
              },
              ...dimensions,
              ...members,
            }),
          );
        }
      }
      values.clear();
      units.clear();
    },
  };
}
