// Field rules shared by several kinds, with Kuma's reason strings. Each takes a Violations collector
// and the field path to report at.
import { isIP } from 'node:net';
import { type Violations } from './resource.js';

export const PORT_RANGE_REASON = 'port must be in the range [1, 65535]';
export const SERVICE_TAG = 'kuma.io/service';
export const PROTOCOL_TAG = 'kuma.io/protocol';
export const SUPPORTED_PROTOCOLS = ['grpc', 'http', 'http2', 'kafka', 'tcp'];

/** `["key"]`, Kuma's rendering of a map key in a field path. */
export function key(k: string): string {
  return `[${JSON.stringify(k)}]`;
}

export function isValidPort(port: unknown): boolean {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function checkPort(v: Violations, field: string, port: unknown): void {
  if (!isValidPort(port)) v.add(field, PORT_RANGE_REASON);
}

export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

// Dot-separated labels of letters, digits, '-' and '_' (not starting with '-'), ≤253 in all.
const DNS_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_][A-Za-z0-9_-]{0,62})*\.?$/;

export function isDomainName(s: string): boolean {
  return s.length <= 253 && DNS_NAME.test(s);
}

/** The listening-address rules of Dataplanes, listeners and zone proxies. Stops at the first problem. */
export function checkBindAddress(v: Violations, field: string, address: string | undefined): void {
  if (!address) {
    v.add(field, "address can't be empty");
    return;
  }
  if (address === '0.0.0.0' || address === '::') {
    v.add(field, 'must not be 0.0.0.0 or ::');
    return;
  }
  if (!isIpAddress(address) && !isDomainName(address)) v.add(field, 'address has to be valid IP address or domain name');
}

const TAG_NAME = /^[a-zA-Z0-9.\-_:/]*$/;
const DATAPLANE_TAG_VALUE = /^[a-zA-Z0-9.\-_:]*$/;
const SELECTOR_TAG_VALUE = /^([a-zA-Z0-9.\-_:/]*|\*)$/;

/** Tags of an inbound, outbound or gateway (`<field>["key"]`). Keys in sorted order. */
export function checkDataplaneTags(v: Violations, field: string, tags: Record<string, string>): void {
  for (const name of Object.keys(tags).sort()) {
    const value = tags[name]!;
    if (name === '') v.add(field, 'tag name must be non-empty');
    const at = field + key(name);
    if (value === '') v.add(at, 'tag value must be non-empty');
    if (!TAG_NAME.test(name)) v.add(at, 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores');
    if (!DATAPLANE_TAG_VALUE.test(value)) v.add(at, 'tag value must consist of alphanumeric characters, dots, dashes and underscores');
  }
}

/** Tags of a selector (mesh constraints): values may contain '/' or be `*`. Reported at `field`. */
export function checkSelectorTags(v: Violations, field: string, tags: Record<string, string> | undefined): void {
  const names = Object.keys(tags ?? {}).sort();
  if (names.length === 0) {
    v.add(field, 'must have at least one tag');
    return;
  }
  for (const name of names) {
    const value = tags![name]!;
    if (name === '') v.add(field, 'tag name must be non-empty');
    if (!TAG_NAME.test(name)) v.add(field, 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores');
    if (value === '') v.add(field, 'tag value must be non-empty');
    if (!SELECTOR_TAG_VALUE.test(value)) {
      v.add(field, 'tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"');
    }
  }
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

/** Milliseconds of a Go-style duration (`1m30s`, `250ms`, `0.5s`); undefined if malformed. */
export function parseDuration(s: string): number | undefined {
  const sign = s.startsWith('-') ? -1 : 1;
  const body = s.replace(/^[-+]/, '');
  if (body === '0') return 0;
  if (body === '' || body.replace(DURATION_PART, '') !== '') return undefined;
  const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of body.matchAll(DURATION_PART)) total += Number(m[1]) * unitMs[m[2]!]!;
  return sign * total;
}

/** Interval / timeout fields that must be a positive duration when present. */
export function checkPositiveDuration(v: Violations, field: string, value: string | undefined): void {
  if (value === undefined) return;
  const ms = parseDuration(value);
  if (ms === undefined) v.add(field, 'must have a valid value');
  else if (ms <= 0) v.add(field, 'must have a positive value');
}

/** Backend names must be unique within one list (`"<n>" name is already used for another backend`). */
export function checkUniqueBackendNames(v: Violations, field: string, backends: { name?: string }[]): void {
  const seen = new Set<string>();
  backends.forEach((b, i) => {
    const name = b.name ?? '';
    if (seen.has(name)) v.add(`${field}[${i}].name`, `"${name}" name is already used for another backend`);
    seen.add(name);
  });
}

export function checkUrlPath(v: Violations, field: string, path: string | undefined): void {
  if (path === undefined) return;
  if (!path.startsWith('/') || /[\s?#]/.test(path)) v.add(field, 'should be a valid URL Path');
}
