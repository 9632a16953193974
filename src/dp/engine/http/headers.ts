// Header rewriting between downstream and upstream, on Node's flat raw header arrays
// ([name, value, name, value, ...]) to avoid building objects on the hot path.
import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';

/** Connection-specific headers that never cross a proxy (RFC 9110 7.6.1, RFC 9113 8.2.2). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

export interface RequestContext {
  remoteAddress: string;
  secure: boolean;
  hostRewrite: string | undefined;
}

/** Request headers for an HTTP/1.1 upstream, with Envoy's x-forwarded-for / -proto and x-request-id. */
export function upstreamRequestHeaders(raw: string[], ctx: RequestContext): string[] {
  const out: string[] = [];
  let xff: string | undefined;
  let hasRequestId = false;
  let hasProto = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (lower.charCodeAt(0) === 58 /* ':' */) {
      if (lower === ':authority') host = value;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || (lower === 'te' && value !== 'trailers')) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === undefined ? value : `${xff}, ${value}`;
      continue;
    }
    if (lower === 'host') {
      host = value;
      continue;
    }
    if (lower === 'x-request-id') hasRequestId = true;
    else if (lower === 'x-forwarded-proto') hasProto = true;
    out.push(name, value);
  }
  out.push('host', ctx.hostRewrite ?? host ?? '');
  out.push('x-forwarded-for', xff === undefined ? ctx.remoteAddress : `${xff}, ${ctx.remoteAddress}`);
  if (!hasProto) out.push('x-forwarded-proto', ctx.secure ? 'https' : 'http');
  if (!hasRequestId) out.push('x-request-id', randomUUID());
  return out;
}

/** The same headers as an object for an HTTP/2 upstream, pseudo-headers included. */
export function http2RequestHeaders(flat: string[], method: string, path: string, scheme = 'http'): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':method': method, ':path': path, ':scheme': scheme };
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (name === 'host') headers[':authority'] = flat[i + 1];
    else if (name === 'te') headers.te = 'trailers';
    else appendHeader(headers, name, flat[i + 1]);
  }
  return headers;
}

/** Response headers from an upstream, hop-by-hop and pseudo-headers removed. */
export function downstreamResponseHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i].toLowerCase();
    if (lower.charCodeAt(0) === 58 || HOP_BY_HOP.has(lower)) continue;
    out.push(raw[i], raw[i + 1]);
  }
  return out;
}

export function headersObject(flat: string[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (let i = 0; i < flat.length; i += 2) appendHeader(headers, flat[i].toLowerCase(), flat[i + 1]);
  return headers;
}

/** Flattens an HTTP/2 response header object (what node:http2 gives) into raw pairs. */
export function flattenHeaders(headers: Record<string, string | string[] | number | undefined>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, String(value));
  }
  return out;
}

function appendHeader(headers: OutgoingHttpHeaders, name: string, value: string): void {
  const existing = headers[name];
  if (existing === undefined) headers[name] = value;
  else if (Array.isArray(existing)) existing.push(value);
  else headers[name] = name === 'cookie' ? `${String(existing)}; ${value}` : [String(existing), value];
}
