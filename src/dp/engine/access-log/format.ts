// Envoy access log format strings: text with %COMMAND% operators, or a JSON object whose string
// values are format strings. Compiled once into functions of the request's log record; an
// operator the engine does not know rejects the config (the NACK names it).
import os from 'node:os';
import { ConfigError } from '../config-error.js';
import type { RequestLog } from '../registry.js';

/** Envoy's default format (used when a logger has no log_format). */
export const DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

/** A value of one operator: undefined when not available (`-` in text, null in JSON). */
type Operator = (log: RequestLog) => string | number | undefined;

/** The operators the engine supports (besides REQ, RESP and START_TIME, which take arguments). */
export const SUPPORTED_OPERATORS = [
  'RESPONSE_CODE', 'RESPONSE_FLAGS', 'BYTES_RECEIVED', 'BYTES_SENT', 'DURATION', 'UPSTREAM_HOST', 'UPSTREAM_CLUSTER',
  'DOWNSTREAM_REMOTE_ADDRESS', 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_LOCAL_ADDRESS',
  'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT', 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS', 'DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT',
  'PROTOCOL', 'ROUTE_NAME', 'HOSTNAME', 'UPSTREAM_HOST_WITHOUT_PORT', 'REQUESTED_SERVER_NAME',
] as const;

const withoutPort = (address: string): string => {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.slice(0, i);
};

const SIMPLE: Record<(typeof SUPPORTED_OPERATORS)[number], Operator> = {
  RESPONSE_CODE: (l) => l.status,
  RESPONSE_FLAGS: (l) => (l.flags.length ? l.flags.join(',') : undefined),
  BYTES_RECEIVED: (l) => l.bytesReceived,
  BYTES_SENT: (l) => l.bytesSent,
  DURATION: (l) => l.durationMs,
  UPSTREAM_HOST: (l) => l.upstreamHost || undefined,
  UPSTREAM_HOST_WITHOUT_PORT: (l) => (l.upstreamHost ? withoutPort(l.upstreamHost) : undefined),
  UPSTREAM_CLUSTER: (l) => l.upstreamCluster || undefined,
  DOWNSTREAM_REMOTE_ADDRESS: (l) => l.downstreamRemoteAddress || undefined,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (l) => (l.downstreamRemoteAddress ? withoutPort(l.downstreamRemoteAddress) : undefined),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (l) => l.downstreamRemoteAddress || undefined,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: (l) => (l.downstreamRemoteAddress ? withoutPort(l.downstreamRemoteAddress) : undefined),
  DOWNSTREAM_LOCAL_ADDRESS: (l) => l.downstreamLocalAddress || undefined,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: (l) => (l.downstreamLocalAddress ? withoutPort(l.downstreamLocalAddress) : undefined),
  PROTOCOL: (l) => l.protocol || undefined,
  ROUTE_NAME: (l) => l.routeName || undefined,
  HOSTNAME: () => os.hostname(),
  REQUESTED_SERVER_NAME: (l) => l.serverName || undefined,
};

const OPERATOR = /%([A-Z_0-9]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/** A compiled format string; `single` is set when the string is exactly one operator (JSON keeps its type). */
export interface CompiledFormat {
  render(log: RequestLog): string;
  single: Operator | undefined;
}

/** `omitEmpty`: an unavailable value prints nothing instead of `-` (omit_empty_values). */
export function compileFormat(format: string, path: string, omitEmpty = false): CompiledFormat {
  const parts: (string | Operator)[] = [];
  let last = 0;
  let single: Operator | undefined;
  for (const m of format.matchAll(OPERATOR)) {
    if (m.index > last) parts.push(format.slice(last, m.index));
    const op = operator(m[1], m[2], path);
    const maxLength = m[3] === undefined ? undefined : Number(m[3]);
    const withLength: Operator = maxLength === undefined ? op : (l) => {
      const v = op(l);
      return typeof v === 'string' ? v.slice(0, maxLength) : v;
    };
    parts.push(withLength);
    if (m.index === 0 && m[0].length === format.length) single = withLength;
    last = m.index + m[0].length;
  }
  if (last < format.length) parts.push(format.slice(last));
  // A % left over starts an operator the pattern did not accept (lower case, unterminated).
  for (const p of parts) {
    const bad = typeof p === 'string' ? /%([A-Za-z_][A-Za-z_0-9]*)/.exec(p) : null;
    if (bad) throw new ConfigError(`${path}: malformed command operator %${bad[1]}`);
  }
  const render = (log: RequestLog): string => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = p(log);
        out += v === undefined || v === '' ? (omitEmpty ? '' : '-') : String(v);
      }
    }
    return out;
  };
  return { render, single };
}

function operator(name: string, arg: string | undefined, path: string): Operator {
  if (name === 'REQ' || name === 'RESP') {
    if (!arg) throw new ConfigError(`${path}: %${name}% needs a header name, e.g. %${name}(X-REQUEST-ID)%`);
    const [main, alt] = arg.split('?').map((h) => h.toLowerCase());
    const lookup = name === 'REQ' ? requestHeader : responseHeader;
    return (l) => lookup(l, main) ?? (alt ? lookup(l, alt) : undefined);
  }
  if (name === 'START_TIME') {
    const format = arg ? compileTimeFormat(arg, path) : (d: Date) => d.toISOString();
    return (l) => format(new Date(l.startMs));
  }
  const op = (SIMPLE as Record<string, Operator>)[name];
  if (!op) throw new ConfigError(`${path}: command operator %${name}% is not supported by the Skein data plane (supported: REQ, RESP, START_TIME, ${SUPPORTED_OPERATORS.join(', ')})`);
  if (arg !== undefined) throw new ConfigError(`${path}: %${name}% takes no argument`);
  return op;
}

function requestHeader(l: RequestLog, name: string): string | undefined {
  const r = l.request;
  if (!r) return undefined;
  switch (name) {
    case ':method': return r.method;
    case ':path': return r.path;
    case ':authority': return r.authority;
    case ':scheme': return r.scheme;
  }
  // The headers as sent upstream (with x-request-id, x-forwarded-for set), else as received.
  const sent = l.upstreamRequestHeaders;
  if (sent) for (let i = 0; i < sent.length; i += 2) if (sent[i].toLowerCase() === name) return sent[i + 1];
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function responseHeader(l: RequestLog, name: string): string | undefined {
  const h = l.responseHeaders;
  if (!h) return undefined;
  if (name === ':status') return String(l.status);
  for (let i = 0; i < h.length; i += 2) if (h[i].toLowerCase() === name) return h[i + 1];
  return undefined;
}

/** START_TIME(...) with the strftime specifiers Envoy users mostly use (UTC). */
function compileTimeFormat(spec: string, path: string): (d: Date) => string {
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const parts: ((d: Date) => string)[] = [];
  const re = /%(\d?f|[YmdHMSsz%]|E3S)/g;
  let last = 0;
  for (const m of spec.matchAll(re)) {
    const literal = spec.slice(last, m.index);
    if (/%/.test(literal)) throw new ConfigError(`${path}: START_TIME format ${spec} uses an unsupported specifier`);
    parts.push(() => literal);
    const s = m[1];
    parts.push((d) => {
      switch (s) {
        case 'Y': return String(d.getUTCFullYear());
        case 'm': return pad(d.getUTCMonth() + 1);
        case 'd': return pad(d.getUTCDate());
        case 'H': return pad(d.getUTCHours());
        case 'M': return pad(d.getUTCMinutes());
        case 'S': return pad(d.getUTCSeconds());
        case 'E3S': return `${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
        case 's': return String(Math.floor(d.getTime() / 1000));
        case 'z': return '+0000';
        case '%': return '%';
        default: {
          // %f (9 digits) / %Nf (N digits) fractional seconds.
          const digits = s.length === 2 ? Number(s[0]) : 9;
          return pad(d.getUTCMilliseconds(), 3).padEnd(9, '0').slice(0, digits);
        }
      }
    });
    last = m.index + m[0].length;
  }
  const tail = spec.slice(last);
  if (/%/.test(tail)) throw new ConfigError(`${path}: START_TIME format ${spec} uses an unsupported specifier`);
  parts.push(() => tail);
  return (d) => parts.map((p) => p(d)).join('');
}

/** json_format: a google.protobuf.Struct (decoded to plain JSON) whose strings are format strings. */
/** `omitEmpty`: fields whose value is unavailable or empty are left out (omit_empty_values). */
export function compileJsonFormat(struct: unknown, path: string, omitEmpty = false): (log: RequestLog) => string {
  const build = (value: unknown, vpath: string): ((log: RequestLog) => unknown) => {
    if (typeof value === 'string') {
      const f = compileFormat(value, vpath, omitEmpty);
      const single = f.single;
      if (single) return (l) => single(l) ?? null;
      return (l) => f.render(l);
    }
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const fields = Object.entries(value).map(([k, v]) => [k, build(v, `${vpath}.${k}`)] as const);
      const empty = (v: unknown) => v === null || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0);
      return (l) => Object.fromEntries(fields.map(([k, f]) => [k, f(l)] as const).filter(([, v]) => !omitEmpty || !empty(v)));
    }
    return () => value;
  };
  const render = build(struct, path);
  return (log) => `${JSON.stringify(render(log))}\n`;
}
