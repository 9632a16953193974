// envoy.config.rbac.v3.RBAC, shared by the RBAC network and HTTP filters: policies of permissions
// (what is accessed) and principals (who accesses), evaluated against a downstream connection and,
// for the HTTP filter, a request. Matchers the engine cannot evaluate are rejected, never skipped.
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { reject } from './config-error.js';
import { checkFields, list, num, obj, str, type Obj } from './proto-values.js';
import type { DownstreamConnection } from './registry.js';
import type { Counter } from './stats.js';
import { compileStringMatcher, type StringMatch } from './string-matcher.js';
import { compileHeaderMatcher } from './http/route-table.js';

/** What a policy is evaluated against. */
export interface RbacInput {
  conn: DownstreamConnection;
  /** The HTTP request (HTTP filter only). */
  request?: { headers: IncomingHttpHeaders; method: string; path: string; authority: string; scheme: string };
}

type Matcher = (input: RbacInput) => boolean;

/** `network`: the RBAC network filter, which has no HTTP request to match headers or paths on. */
export type RbacScope = 'network' | 'http';

export interface RbacRules {
  action: 'ALLOW' | 'DENY';
  policies: { name: string; matches: Matcher }[];
  /** Some principal looks at the peer certificate, known only once the TLS handshake is done. */
  needsPeer: boolean;
}

export interface RbacDecision {
  allowed: boolean;
  /** The policy that matched, if any. */
  policy: string | undefined;
}

const ACTIONS = ['ALLOW', 'DENY'] as const;

export function compileRbac(value: unknown, path: string, scope: RbacScope): RbacRules {
  const rules = obj(value, path);
  checkFields(rules, path, ['action', 'policies']);
  const action = (str(rules.action) || 'ALLOW') as RbacRules['action'];
  if (!ACTIONS.includes(action)) reject(`${path}.action`, `${action} is not supported (only ALLOW and DENY)`);
  const compiler = new RbacCompiler(scope);
  const policies = obj(rules.policies, `${path}.policies`);
  const compiled = Object.keys(policies)
    .sort()
    .map((name) => ({ name, matches: compiler.policy(policies[name], `${path}.policies["${name}"]`) }));
  return { action, policies: compiled, needsPeer: compiler.needsPeer };
}

/** ALLOW: allowed iff some policy matches. DENY: denied iff some policy matches. */
export function evaluateRbac(rules: RbacRules, input: RbacInput): RbacDecision {
  const matched = rules.policies.find((p) => p.matches(input));
  return { allowed: (matched !== undefined) === (rules.action === 'ALLOW'), policy: matched?.name };
}

export interface RbacCounters {
  allowed: Counter;
  denied: Counter;
}

/**
 * What both RBAC filters run: `rules`, enforced, and `shadow_rules`, evaluated first and only
 * counted (`shadow_allowed` / `shadow_denied`), as Envoy does. Either may be absent: without
 * `rules` everything is allowed and nothing is counted for them.
 */
export class RbacFilterRules {
  readonly needsPeer: boolean;

  constructor(
    private readonly rules: { rules: RbacRules; counters: RbacCounters } | undefined,
    private readonly shadow: { rules: RbacRules; counters: RbacCounters } | undefined,
  ) {
    this.needsPeer = (rules?.rules.needsPeer ?? false) || (shadow?.rules.needsPeer ?? false);
  }

  get empty(): boolean {
    return !this.rules && !this.shadow;
  }

  /** Evaluates and counts; true when the enforced rules allow the connection or request. */
  check(input: RbacInput): boolean {
    if (this.shadow) count(this.shadow.counters, evaluateRbac(this.shadow.rules, input).allowed);
    if (!this.rules) return true;
    return count(this.rules.counters, evaluateRbac(this.rules.rules, input).allowed);
  }
}

function count(counters: RbacCounters, allowed: boolean): boolean {
  (allowed ? counters.allowed : counters.denied).value++;
  return allowed;
}

class RbacCompiler {
  needsPeer = false;

  constructor(private readonly scope: RbacScope) {}

  policy(value: unknown, path: string): Matcher {
    const p = obj(value, path);
    checkFields(p, path, ['permissions', 'principals']);
    const permissions = list(p.permissions, `${path}.permissions`).map((x, i) => this.permission(x, `${path}.permissions[${i}]`));
    const principals = list(p.principals, `${path}.principals`).map((x, i) => this.principal(x, `${path}.principals[${i}]`));
    if (permissions.length === 0) reject(`${path}.permissions`, 'at least one permission is required');
    if (principals.length === 0) reject(`${path}.principals`, 'at least one principal is required');
    const anyPermission = or(permissions);
    const anyPrincipal = or(principals);
    return (input) => anyPermission(input) && anyPrincipal(input);
  }

  permission(value: unknown, path: string): Matcher {
    const p = obj(value, path);
    const rule = oneof(p, path, 'rule');
    const rpath = `${path}.${rule}`;
    switch (rule) {
      case 'any':
        return always(p.any, rpath);
      case 'and_rules':
      case 'or_rules': {
        const set = obj(p[rule], rpath);
        checkFields(set, rpath, ['rules']);
        const rules = list(set.rules, `${rpath}.rules`).map((x, i) => this.permission(x, `${rpath}.rules[${i}]`));
        if (rules.length === 0) reject(`${rpath}.rules`, 'at least one rule is required');
        return rule === 'and_rules' ? and(rules) : or(rules);
      }
      case 'not_rule':
        return not(this.permission(p.not_rule, rpath));
      case 'destination_port': {
        const port = num(p.destination_port, 0);
        if (port > 65535) reject(rpath, 'must be at most 65535');
        return (input) => input.conn.info.localPort === port;
      }
      case 'destination_port_range': {
        const range = obj(p.destination_port_range, rpath);
        checkFields(range, rpath, ['start', 'end']);
        const start = num(range.start, 0);
        const end = num(range.end, 0);
        if (start < 0 || start > 65536 || end < 0 || end > 65536) reject(rpath, 'start and end must be within 0..65536');
        if (start >= end) reject(rpath, `range start ${start} must be less than range end ${end}`);
        return (input) => start <= input.conn.info.localPort && input.conn.info.localPort < end;
      }
      case 'header':
        return this.header(p.header, rpath);
      case 'url_path':
        return this.urlPath(p.url_path, rpath);
      default:
        return reject(rpath, 'permission is not supported by the Skein data plane');
    }
  }

  principal(value: unknown, path: string): Matcher {
    const p = obj(value, path);
    const id = oneof(p, path, 'identifier');
    const ipath = `${path}.${id}`;
    switch (id) {
      case 'any':
        return always(p.any, ipath);
      case 'and_ids':
      case 'or_ids': {
        const set = obj(p[id], ipath);
        checkFields(set, ipath, ['ids']);
        const ids = list(set.ids, `${ipath}.ids`).map((x, i) => this.principal(x, `${ipath}.ids[${i}]`));
        if (ids.length === 0) reject(`${ipath}.ids`, 'at least one id is required');
        return id === 'and_ids' ? and(ids) : or(ids);
      }
      case 'not_id':
        return not(this.principal(p.not_id, ipath));
      case 'authenticated':
        this.needsPeer = true;
        return authenticated(p.authenticated, ipath);
      // Skein has no PROXY protocol and always treats the connection peer as the client (like
      // use_remote_address: true), so the direct and the "original" remote address are the same.
      case 'source_ip':
      case 'direct_remote_ip':
      case 'remote_ip': {
        const inRange = compileCidr(p[id], ipath);
        return (input) => inRange(input.conn.info.remoteAddress);
      }
      case 'header':
        return this.header(p.header, ipath);
      case 'url_path':
        return this.urlPath(p.url_path, ipath);
      default:
        return reject(ipath, 'principal is not supported by the Skein data plane');
    }
  }

  private header(value: unknown, path: string): Matcher {
    this.httpOnly(path);
    const matches = compileHeaderMatcher(obj(value, path), path);
    // Envoy matches request headers including the pseudo-headers (:method, :path, ...).
    return (input) => {
      const r = input.request;
      if (!r) return false;
      return matches({ ...r.headers, ':method': r.method, ':path': r.path, ':authority': r.authority, ':scheme': r.scheme });
    };
  }

  private urlPath(value: unknown, path: string): Matcher {
    this.httpOnly(path);
    const pm = obj(value, path);
    checkFields(pm, path, ['path']);
    if (pm.path === undefined) reject(`${path}.path`, 'is required');
    const match = compileStringMatcher(pm.path, `${path}.path`);
    // The path without query and fragment, as Envoy's PathMatcher.
    return (input) => input.request !== undefined && match(input.request.path.replace(/[?#].*$/s, ''));
  }

  private httpOnly(path: string): void {
    if (this.scope === 'network') reject(path, 'needs an HTTP request: only supported by the RBAC HTTP filter');
  }
}

/** The one field set of a oneof (protobufjs adds `<oneof>: '<field>'` next to it). */
function oneof(message: Obj, path: string, name: string): string {
  const field = str(message[name]) || Object.keys(message).find((k) => k !== name);
  const extra = Object.keys(message).filter((k) => k !== name && k !== field);
  if (!field) return reject(path, `${name} is required`);
  if (extra.length > 0) reject(`${path}.${extra[0]}`, `only one ${name} may be set`);
  return field;
}

function always(value: unknown, path: string): Matcher {
  if (value !== true) reject(path, 'must be true');
  return () => true;
}

function and(matchers: Matcher[]): Matcher {
  return (input) => matchers.every((m) => m(input));
}

function or(matchers: Matcher[]): Matcher {
  return matchers.length === 1 ? matchers[0] : (input) => matchers.some((m) => m(input));
}

function not(matcher: Matcher): Matcher {
  return (input) => !matcher(input);
}

/**
 * Principal.Authenticated, as Envoy: never matches without TLS; without principal_name any TLS
 * connection matches; else the URI SANs, then the DNS SANs, then the subject of the peer certificate.
 */
function authenticated(value: unknown, path: string): Matcher {
  const a = obj(value, path);
  checkFields(a, path, ['principal_name']);
  const match: StringMatch | undefined = a.principal_name === undefined ? undefined : compileStringMatcher(a.principal_name, `${path}.principal_name`);
  return ({ conn }) => {
    if (!conn.secure) return false;
    if (!match) return true;
    const peer = conn.peer;
    if (!peer) return match('');
    return peer.uriSans.some(match) || peer.dnsSans.some(match) || match(peer.subject);
  };
}

/** core.v3.CidrRange: address_prefix plus prefix_len (0, i.e. the whole address family, when unset). */
function compileCidr(value: unknown, path: string): (address: string) => boolean {
  const c = obj(value, path);
  checkFields(c, path, ['address_prefix', 'prefix_len']);
  const prefix = str(c.address_prefix);
  const family = net.isIP(prefix);
  if (family === 0) reject(`${path}.address_prefix`, `${prefix || 'empty'} is not an IP address`);
  const len = num(c.prefix_len, 0);
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(len) || len < 0 || len > max) reject(`${path}.prefix_len`, `must be within 0..${max}`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const range = new net.BlockList();
  range.addSubnet(prefix, len, type);
  return (address) => {
    const ip = unmapIPv4(address);
    return net.isIP(ip) === family && range.check(ip, type);
  };
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) as `1.2.3.4`. */
function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}
