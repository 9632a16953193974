// RouteConfiguration compiled for matching: virtual hosts by domain, routes by path and headers.
import type { IncomingHttpHeaders } from 'node:http';
import { reject } from '../config-error.js';
import { bool, checkFields, durationMs, list, num, obj, str, type Obj } from '../proto-values.js';
import { compileRegex, compileStringMatcher } from '../string-matcher.js';
import { perRouteConfigs, type CompileContext } from '../registry.js';
import { headerValueOptions } from './header-options.js';

export interface WeightedCluster {
  name: string;
  weight: number;
}

export interface ForwardAction {
  kind: 'forward';
  /** Single cluster, or weighted clusters (pick with pickCluster). */
  cluster: string;
  weighted: WeightedCluster[] | undefined;
  totalWeight: number;
  /** 0 = no timeout. */
  timeoutMs: number;
  idleTimeoutMs: number;
  prefixRewrite: string | undefined;
  hostRewrite: string | undefined;
  clusterNotFoundStatus: number;
}

export interface DirectResponseAction {
  kind: 'direct';
  status: number;
  body: string;
}

export interface Route {
  name: string;
  /** The prefix (or exact path) the route matched on, which prefix_rewrite replaces. */
  prefix: string | undefined;
  matches(path: string, headers: IncomingHttpHeaders): boolean;
  action: ForwardAction | DirectResponseAction;
  /**
   * typed_per_filter_config of the route (over its virtual host's), compiled, by HTTP filter name;
   * undefined when there is none, so filters without overrides pay one property read.
   */
  perFilter: Map<string, unknown> | undefined;
  /** response_headers_to_add of the route, then of its virtual host (name, value, ...); undefined when none. */
  responseHeaders: string[] | undefined;
}

export interface VirtualHost {
  name: string;
  routes: Route[];
}

const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
const HOST_CACHE_LIMIT = 1024;

export class RouteTable {
  private readonly exact = new Map<string, VirtualHost>();
  private readonly suffixes: { suffix: string; vh: VirtualHost }[] = [];
  private readonly prefixes: { prefix: string; vh: VirtualHost }[] = [];
  private wildcard: VirtualHost | undefined;
  private readonly byHost = new Map<string, VirtualHost | undefined>();

  constructor(readonly name: string, virtualHosts: { vh: VirtualHost; domains: string[] }[]) {
    for (const { vh, domains } of virtualHosts) {
      for (const raw of domains) {
        const domain = raw.toLowerCase();
        if (domain === '*') this.wildcard = vh;
        else if (domain.startsWith('*')) this.suffixes.push({ suffix: domain.slice(1), vh });
        else if (domain.endsWith('*')) this.prefixes.push({ prefix: domain.slice(0, -1), vh });
        else this.exact.set(domain, vh);
      }
    }
    // Envoy prefers the longest wildcard match.
    this.suffixes.sort((a, b) => b.suffix.length - a.suffix.length);
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  virtualHost(host: string): VirtualHost | undefined {
    if (this.byHost.has(host)) return this.byHost.get(host);
    const h = host.toLowerCase();
    const vh =
      this.exact.get(h) ??
      this.suffixes.find((s) => h.endsWith(s.suffix))?.vh ??
      this.prefixes.find((p) => h.startsWith(p.prefix))?.vh ??
      this.wildcard;
    if (this.byHost.size >= HOST_CACHE_LIMIT) this.byHost.clear();
    this.byHost.set(host, vh);
    return vh;
  }

  match(host: string, path: string, headers: IncomingHttpHeaders): Route | undefined {
    const vh = this.virtualHost(host);
    if (!vh) return undefined;
    for (const route of vh.routes) if (route.matches(path, headers)) return route;
    return undefined;
  }
}

export function pickCluster(action: ForwardAction): string {
  if (!action.weighted) return action.cluster;
  let r = Math.random() * action.totalWeight;
  for (const c of action.weighted) {
    r -= c.weight;
    if (r < 0) return c.name;
  }
  return action.weighted[action.weighted.length - 1].name;
}

export function compileRouteConfiguration(rc: Obj, path: string, ctx: CompileContext): RouteTable {
  checkFields(rc, path, ['name', 'virtual_hosts', 'validate_clusters']);
  if (bool(rc.validate_clusters, false)) reject(`${path}.validate_clusters`, 'only false is supported');
  const vhosts = list(rc.virtual_hosts, `${path}.virtual_hosts`).map((vh, i) => {
    const vpath = `${path}.virtual_hosts[${i}]`;
    checkFields(vh, vpath, ['name', 'domains', 'routes', 'typed_per_filter_config', 'response_headers_to_add']);
    const domains = (vh.domains as string[] | undefined) ?? [];
    if (domains.length === 0) reject(`${vpath}.domains`, 'at least one domain is required');
    const vhPerFilter = compilePerFilterConfig(vh.typed_per_filter_config, `${vpath}.typed_per_filter_config`, ctx);
    const vhHeaders = responseHeadersToAdd(vh.response_headers_to_add, `${vpath}.response_headers_to_add`);
    const routes = list(vh.routes, `${vpath}.routes`).map((r, j) => compileRoute(r, `${vpath}.routes[${j}]`, ctx, vhPerFilter, vhHeaders));
    return { vh: { name: str(vh.name), routes }, domains };
  });
  return new RouteTable(str(rc.name), vhosts);
}

/** Per-filter overrides (typed_per_filter_config), by HTTP filter name; undefined when empty. */
function compilePerFilterConfig(value: unknown, path: string, ctx: CompileContext): Map<string, unknown> | undefined {
  const entries = Object.entries(obj(value, path));
  if (entries.length === 0) return undefined;
  const out = new Map<string, unknown>();
  for (const [name, any] of entries) out.set(name, perRouteConfigs.create(any, `${path}["${name}"]`, ctx).instance);
  return out;
}

/**
 * Route / virtual host response_headers_to_add. Only appending (Envoy's default): the headers are
 * added next to the upstream's, so replacing one it sent is not supported.
 */
function responseHeadersToAdd(value: unknown, path: string): string[] | undefined {
  list(value, path).forEach((o, i) => {
    if (o.append_action !== undefined && o.append_action !== 'APPEND_IF_EXISTS_OR_ADD') reject(`${path}[${i}].append_action`, `${String(o.append_action)} is not supported`);
    if (o.append !== undefined && (o.append as { value?: boolean }).value !== true) reject(`${path}[${i}].append`, 'only true is supported');
  });
  const headers = headerValueOptions(value, path);
  return headers.length ? headers : undefined;
}

function compileRoute(route: Obj, path: string, ctx: CompileContext, vhPerFilter: Map<string, unknown> | undefined, vhHeaders: string[] | undefined): Route {
  // metadata is informational (filters that read it are not supported).
  checkFields(route, path, ['name', 'match', 'route', 'direct_response', 'metadata', 'typed_per_filter_config', 'response_headers_to_add']);
  const ownHeaders = responseHeadersToAdd(route.response_headers_to_add, `${path}.response_headers_to_add`);
  const responseHeaders = ownHeaders && vhHeaders ? [...ownHeaders, ...vhHeaders] : ownHeaders ?? vhHeaders;
  const own = compilePerFilterConfig(route.typed_per_filter_config, `${path}.typed_per_filter_config`, ctx);
  const perFilter = own && vhPerFilter ? new Map([...vhPerFilter, ...own]) : own ?? vhPerFilter;
  const match = obj(route.match, `${path}.match`);
  checkFields(match, `${path}.match`, ['prefix', 'path', 'safe_regex', 'path_separated_prefix', 'headers', 'case_sensitive']);
  const caseSensitive = bool(match.case_sensitive, true);
  const norm = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  let pathMatch: (fullPath: string) => boolean;
  let prefix: string | undefined;
  if (match.prefix !== undefined) {
    prefix = str(match.prefix);
    const want = norm(prefix);
    pathMatch = want === '' ? () => true : (p) => norm(p).startsWith(want);
  } else if (match.path !== undefined) {
    // prefix_rewrite swaps the matched path, as it swaps a matched prefix.
    prefix = str(match.path);
    const want = norm(prefix);
    pathMatch = (p) => norm(withoutQuery(p)) === want;
  } else if (match.safe_regex !== undefined) {
    const re = compileRegex(match.safe_regex, `${path}.match.safe_regex`, caseSensitive ? '' : 'i');
    pathMatch = (p) => re.test(withoutQuery(p));
  } else if (match.path_separated_prefix !== undefined) {
    prefix = str(match.path_separated_prefix);
    const want = norm(prefix);
    pathMatch = (p) => {
      const bare = norm(withoutQuery(p));
      return bare === want || bare.startsWith(`${want}/`);
    };
  } else {
    return reject(`${path}.match`, 'one of prefix, path, safe_regex, path_separated_prefix is required');
  }
  const headerMatchers = list(match.headers, `${path}.match.headers`).map((h, i) => compileHeaderMatcher(h, `${path}.match.headers[${i}]`));
  const matches =
    headerMatchers.length === 0
      ? pathMatch
      : (p: string, headers: IncomingHttpHeaders) => pathMatch(p) && headerMatchers.every((m) => m(headers));

  let action: ForwardAction | DirectResponseAction;
  if (route.route) action = compileForward(obj(route.route, `${path}.route`), `${path}.route`);
  else if (route.direct_response) action = compileDirectResponse(obj(route.direct_response, path), `${path}.direct_response`);
  else return reject(path, 'one of route, direct_response is required');
  return { name: str(route.name), prefix, matches, action, perFilter, responseHeaders };
}

function withoutQuery(p: string): string {
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

/** route.v3.HeaderMatcher against request headers (lower-case names, as Node parses them). */
export function compileHeaderMatcher(h: Obj, path: string): (headers: IncomingHttpHeaders) => boolean {
  checkFields(h, path, ['name', 'exact_match', 'safe_regex_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match', 'string_match', 'invert_match']);
  const name = str(h.name).toLowerCase();
  if (!name) reject(`${path}.name`, 'is required');
  const invert = bool(h.invert_match, false);
  let test: (value: string | undefined) => boolean;
  if (h.exact_match !== undefined) test = (v) => v === str(h.exact_match);
  else if (h.prefix_match !== undefined) test = (v) => v !== undefined && v.startsWith(str(h.prefix_match));
  else if (h.suffix_match !== undefined) test = (v) => v !== undefined && v.endsWith(str(h.suffix_match));
  else if (h.contains_match !== undefined) test = (v) => v !== undefined && v.includes(str(h.contains_match));
  else if (h.safe_regex_match !== undefined) {
    const re = compileRegex(h.safe_regex_match, `${path}.safe_regex_match`);
    test = (v) => v !== undefined && re.test(v);
  } else if (h.string_match !== undefined) {
    const m = compileStringMatcher(h.string_match, `${path}.string_match`);
    test = (v) => v !== undefined && m(v);
  } else if (h.present_match !== undefined) {
    const want = bool(h.present_match, false);
    test = (v) => (v !== undefined) === want;
  } else {
    test = (v) => v !== undefined;
  }
  return (headers) => {
    const raw = headers[name];
    const value = raw === undefined ? undefined : Array.isArray(raw) ? raw.join(',') : raw;
    return test(value) !== invert;
  };
}

const CLUSTER_NOT_FOUND_STATUS: Record<string, number> = { SERVICE_UNAVAILABLE: 503, NOT_FOUND: 404, INTERNAL_SERVER_ERROR: 500 };

function compileForward(action: Obj, path: string): ForwardAction {
  checkFields(action, path, [
    'cluster', 'weighted_clusters', 'timeout', 'idle_timeout', 'prefix_rewrite', 'host_rewrite_literal',
    'cluster_not_found_response_code',
  ]);
  const notFound = str(action.cluster_not_found_response_code) || 'SERVICE_UNAVAILABLE';
  const result: ForwardAction = {
    kind: 'forward',
    cluster: str(action.cluster),
    weighted: undefined,
    totalWeight: 0,
    timeoutMs: durationMs(action.timeout, DEFAULT_ROUTE_TIMEOUT_MS),
    idleTimeoutMs: durationMs(action.idle_timeout, 0),
    prefixRewrite: action.prefix_rewrite === undefined ? undefined : str(action.prefix_rewrite),
    hostRewrite: str(action.host_rewrite_literal) || undefined,
    clusterNotFoundStatus: CLUSTER_NOT_FOUND_STATUS[notFound] ?? reject(`${path}.cluster_not_found_response_code`, `${notFound} is not supported`),
  };
  if (action.weighted_clusters) {
    const wpath = `${path}.weighted_clusters`;
    const wc = obj(action.weighted_clusters, wpath);
    checkFields(wc, wpath, ['clusters', 'total_weight']);
    result.weighted = list(wc.clusters, `${wpath}.clusters`).map((c, i) => {
      checkFields(c, `${wpath}.clusters[${i}]`, ['name', 'weight']);
      return { name: str(c.name), weight: num(c.weight, 0) };
    });
    result.totalWeight = result.weighted.reduce((sum, c) => sum + c.weight, 0);
    if (result.totalWeight <= 0) reject(wpath, 'the sum of weights must be greater than 0');
  } else if (!result.cluster) {
    reject(path, 'one of cluster, weighted_clusters is required');
  }
  return result;
}

function compileDirectResponse(dr: Obj, path: string): DirectResponseAction {
  checkFields(dr, path, ['status', 'body']);
  const body = obj(dr.body, `${path}.body`);
  checkFields(body, `${path}.body`, ['inline_string', 'inline_bytes', 'specifier']);
  const text = body.inline_string !== undefined ? str(body.inline_string) : body.inline_bytes instanceof Uint8Array ? Buffer.from(body.inline_bytes).toString() : '';
  const status = num(dr.status, 0);
  if (status < 100 || status > 599) reject(`${path}.status`, 'must be a valid HTTP status');
  return { kind: 'direct', status, body: text };
}
