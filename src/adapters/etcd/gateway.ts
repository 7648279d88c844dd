/**
 * Transport to etcd's v3 JSON gateway (etcd 3.5): every call is a POST of a JSON body to
 * `<endpoint>/v3/...`, over HTTPS with mutual TLS (plain HTTP only for tests). Errors come back as
 * `{"error","message","code"}` with the gRPC code; they become `EtcdError`s typed by that code.
 *
 * uint64 ids arrive as quoted decimal strings, so `JSON.parse` keeps them exact: callers keep them
 * as strings.
 */
import http from 'node:http';
import https from 'node:https';
import { EtcdError, type EtcdErrorKind } from '../../heal/ports.js';

export interface EtcdTls {
  /** PEM of the etcd CA that signed the members' server certificates. */
  ca: string | Buffer;
  /** PEM of the client certificate (the reconciler's). */
  cert: string | Buffer;
  /** PEM of the client certificate's key. */
  key: string | Buffer;
}

export interface GatewayOptions {
  tls?: EtcdTls;
  /** Per-call deadline in milliseconds. */
  timeoutMs: number;
}

const GRPC_KINDS: Record<number, EtcdErrorKind> = {
  4: 'timeout', // DeadlineExceeded
  5: 'not-found',
  9: 'precondition',
  14: 'unavailable',
};
const HTTP_KINDS: Record<number, EtcdErrorKind> = {
  404: 'not-found',
  412: 'precondition',
  503: 'unavailable',
  504: 'timeout',
};
/** Connection failures: the member is not there (down, partitioned, not started yet). */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** The `EtcdError` for a gateway error body (or a bare HTTP status when the body is not etcd's). */
export function gatewayError(where: string, httpStatus: number, body: string): EtcdError {
  let code: number | undefined;
  let message = body.trim() || `HTTP ${httpStatus}`;
  try {
    const parsed = JSON.parse(body) as { error?: unknown; message?: unknown; code?: unknown };
    if (typeof parsed.code === 'number') code = parsed.code;
    if (typeof parsed.message === 'string' && parsed.message) message = parsed.message;
    else if (typeof parsed.error === 'string' && parsed.error) message = parsed.error;
  } catch {
    /* not JSON: keep the raw text */
  }
  const kind = (code !== undefined ? GRPC_KINDS[code] : undefined) ?? HTTP_KINDS[httpStatus] ?? 'other';
  return new EtcdError(kind, `${where}: ${message} (HTTP ${httpStatus})`, code);
}

/** The `EtcdError` for a failure below HTTP: timeout, connection refused, TLS. */
export function transportError(where: string, err: unknown, timedOut: boolean, timeoutMs: number): EtcdError {
  if (timedOut) return new EtcdError('timeout', `${where}: no answer within ${timeoutMs} ms`);
  const e = err as NodeJS.ErrnoException;
  const text = e?.message ?? String(err);
  if (e?.code && UNREACHABLE_CODES.has(e.code)) return new EtcdError('unavailable', `${where}: ${text}`);
  // OpenSSL's alert text ("...:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:...") -> its reason.
  const alert = /SSL routines:[^:]*:([^:]+)/.exec(text)?.[1];
  if (alert) {
    return new EtcdError(
      'other',
      `${where}: the member refused the TLS handshake (${alert}): is the client certificate signed by the cluster's etcd CA?`,
    );
  }
  if (e?.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code)) {
    return new EtcdError(
      'other',
      `${where}: the member's certificate is not trusted (${e.code}: ${text}): is the CA the cluster's etcd CA?`,
    );
  }
  return new EtcdError('other', `${where}: ${text}`);
}

export class Gateway {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;

  constructor(private readonly options: GatewayOptions) {
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(options.tls ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key } : {}),
    });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** Opens a POST; resolves with the response once its headers arrived (or rejects with an EtcdError). */
  private open(
    endpoint: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): {
    where: string;
    response: Promise<http.IncomingMessage>;
    request: http.ClientRequest;
    done(): void;
    timedOut(): boolean;
  } {
    const base = endpoint.replace(/\/+$/, '');
    const where = `etcd ${base}${path}`;
    let url: URL;
    try {
      url = new URL(base + path);
    } catch {
      throw new EtcdError('other', `${where}: invalid endpoint "${endpoint}"`);
    }
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      throw new EtcdError('other', `${where}: endpoint must be https:// or http://, got "${endpoint}"`);
    }
    const payload = JSON.stringify(body);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const done = () => clearTimeout(timer);
    const request = (secure ? https : http).request(url, {
      method: 'POST',
      agent: secure ? this.httpsAgent : this.httpAgent,
      signal: controller.signal,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      request.on('response', resolve);
      request.on('error', (err) => {
        done();
        reject(transportError(where, err, timedOut, timeoutMs));
      });
    });
    request.end(payload);
    return { where, response, request, done, timedOut: () => timedOut };
  }

  /** One unary call: POST `body` to `endpoint + path`, return the parsed JSON reply. */
  async call<T>(endpoint: string, path: string, body: unknown = {}): Promise<T> {
    const timeoutMs = this.options.timeoutMs;
    const { where, response, done, timedOut } = this.open(endpoint, path, body, timeoutMs);
    try {
      const res = await response;
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of res) chunks.push(chunk as Buffer);
      } catch (err) {
        throw transportError(where, err, timedOut(), timeoutMs);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (res.statusCode !== 200) throw gatewayError(where, res.statusCode ?? 0, text);
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new EtcdError('other', `${where}: reply is not JSON: ${text.slice(0, 200)}`);
      }
    } finally {
      done();
    }
  }

  /**
   * A server-streaming call: the gateway writes one `{"result":{...}}` (or `{"error":{...}}`) JSON
   * object per line. Yields each `result`. `timeoutMs` bounds the wait for the headers and for each
   * further chunk (an idle deadline, not a total one: a big snapshot may take long).
   */
  async *stream<T>(endpoint: string, path: string, body: unknown = {}): AsyncGenerator<T> {
    const timeoutMs = this.options.timeoutMs;
    const { where, response, request, done } = this.open(endpoint, path, body, timeoutMs);
    let idle = false;
    try {
      const res = await response;
      done();
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        for await (const chunk of res) chunks.push(chunk as Buffer);
        throw gatewayError(where, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'));
      }
      res.setTimeout(timeoutMs, () => {
        idle = true;
        res.destroy(new Error('idle'));
      });
      let pending = '';
      const parse = (line: string): T | undefined => {
        if (!line.trim()) return undefined;
        let msg: {
          result?: T;
          error?: { grpc_code?: number; code?: number; message?: string; http_code?: number };
        };
        try {
          msg = JSON.parse(line);
        } catch {
          throw new EtcdError('other', `${where}: stream line is not JSON: ${line.slice(0, 200)}`);
        }
        if (msg.error) {
          const code = msg.error.grpc_code ?? msg.error.code;
          throw gatewayError(
            where,
            msg.error.http_code ?? 500,
            JSON.stringify({ code, message: msg.error.message ?? 'stream error' }),
          );
        }
        return msg.result;
      };
      try {
        for await (const chunk of res) {
          pending += (chunk as Buffer).toString('utf8');
          let nl = pending.indexOf('\n');
          while (nl >= 0) {
            const result = parse(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
            if (result !== undefined) yield result;
            nl = pending.indexOf('\n');
          }
        }
      } catch (err) {
        if (err instanceof EtcdError) throw err;
        throw transportError(where, err, idle, timeoutMs);
      }
      const last = parse(pending);
      if (last !== undefined) yield last;
    } finally {
      done();
      request.destroy();
    }
  }

  /** Closes pooled connections (tests and short-lived CLIs; a Lambda keeps them for the next call). */
  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}
