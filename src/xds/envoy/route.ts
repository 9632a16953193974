// Route configurations: virtual hosts by domain, routes by path/prefix/headers to one cluster or
// a weighted split.
import { durationFromMs } from './common.js';
import type { HeaderMatcher, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost } from './types.js';

export function routeConfiguration(name: string, virtualHosts: VirtualHost[]): RouteConfiguration {
  return { name, virtual_hosts: virtualHosts };
}

export function virtualHost(name: string, domains: string[], routes: Route[]): VirtualHost {
  return { name, domains, routes };
}

export interface HeaderMatchOptions {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
  present?: boolean;
  invert?: boolean;
}

export interface RouteOptions {
  name?: string;
  /** Exactly one of prefix, path and regex. */
  prefix?: string;
  path?: string;
  regex?: string;
  headers?: HeaderMatchOptions[];
  /** Exactly one of cluster and weightedClusters. */
  cluster?: string;
  weightedClusters?: { name: string; weight: number }[];
  timeoutMs?: number;
}

export function route(options: RouteOptions): Route {
  const built: Route = { match: routeMatch(options), route: routeAction(options) };
  if (options.name) built.name = options.name;
  return built;
}

function routeMatch(options: RouteOptions): RouteMatch {
  const pathSpecifiers = [options.prefix, options.path, options.regex].filter((p) => p !== undefined);
  if (pathSpecifiers.length !== 1) throw new Error('a route needs exactly one of prefix, path or regex');
  const match: RouteMatch = {};
  if (options.prefix !== undefined) match.prefix = options.prefix;
  if (options.path !== undefined) match.path = options.path;
  if (options.regex !== undefined) match.safe_regex = { regex: options.regex };
  if (options.headers?.length) match.headers = options.headers.map(headerMatcher);
  return match;
}

function headerMatcher(options: HeaderMatchOptions): HeaderMatcher {
  const matcher: HeaderMatcher = { name: options.name };
  if (options.exact !== undefined) matcher.string_match = { exact: options.exact };
  else if (options.prefix !== undefined) matcher.string_match = { prefix: options.prefix };
  else if (options.regex !== undefined) matcher.string_match = { safe_regex: { regex: options.regex } };
  else matcher.present_match = options.present ?? true;
  if (options.invert) matcher.invert_match = true;
  return matcher;
}

function routeAction(options: RouteOptions): RouteAction {
  if (!options.cluster === !options.weightedClusters) {
    throw new Error('a route needs exactly one of cluster or weightedClusters');
  }
  const action: RouteAction = {};
  if (options.cluster) action.cluster = options.cluster;
  if (options.weightedClusters) {
    action.weighted_clusters = {
      clusters: options.weightedClusters.map((c) => ({ name: c.name, weight: { value: c.weight } })),
    };
  }
  if (options.timeoutMs !== undefined) action.timeout = durationFromMs(options.timeoutMs);
  return action;
}
