// The engine: given a proxy and the policies of one kind in its mesh, which policies apply where,
// in which order, and with which merged conf. Pure and deterministic (no I/O, stable sorts).
//
//   inbounds   per inbound (`rules[]`, or `from[]` for kinds whose `from` reads as rules): the
//              rules ordered most specific match first (spiffeID Exact, Prefix, none; SNI before
//              none), and the merged conf of the catch-all rules;
//   listeners  per zone-proxy listener, the same, plus per SNI the catch-all conf merged with the
//              rules matching exactly that SNI (and nothing else);
//   outbounds  per destination (`to[]`), the merged conf of the entries naming it;
//   proxy      single-item kinds: the merged `spec.default` of every policy selecting the proxy.
import type { Resource } from '../api/resource.js';
import { policyKindInfo, registeredPolicyKinds, type PolicyKindInfo } from './kinds.js';
import { kindIndex, remember, viewKey } from './policy-index.js';
import { mergeConfs } from './merge.js';
import { destinationKey, sectionOf, type DestinationView, type InboundView, type ListenerView, type ProxyView } from './proxy-view.js';
import {
  compareNamesDescending,
  originRank,
  selectProxy,
  selectsDestination,
  toRank,
  topLevelRank,
  topLevelRef,
  zoneAllows,
  type Selection,
} from './select.js';
import type { TargetRef } from './target-ref.js';

export interface Match {
  spiffeID?: { type?: 'Exact' | 'Prefix'; value?: string };
  sni?: { type?: 'Exact'; value?: string };
}

/** Where a rule or conf comes from: policy name, spec section and item index (-1 for `default`). */
export interface Origin {
  policy: string;
  section: 'rules' | 'from' | 'to' | 'default';
  index: number;
}

export interface Rule<C> {
  /** Absent for a catch-all rule. */
  match?: Match;
  conf: C;
  origin: Origin;
}

export interface FromEntry<C> {
  targetRef: TargetRef;
  conf: C;
  origin: Origin;
}

export interface ToEntry<C> {
  targetRef: TargetRef;
  conf: C;
  origin: Origin;
}

interface SectionRules<C> {
  /** Section name (inbound or listener name, else port). */
  section: string;
  /** Policies selecting this inbound / listener, least specific first. */
  policies: string[];
  /** Rules, most specific match first, catch-all rules last (in policy order). */
  rules: Rule<C>[];
  /** Merged conf of the catch-all rules; undefined when there is none. */
  conf?: C;
  /** Legacy `from[]` entries (kinds whose `from` is not read as rules), in policy then item order. */
  from: FromEntry<C>[];
}

export interface InboundRules<C> extends SectionRules<C> {
  inbound: InboundView;
}

export interface ListenerRules<C> extends SectionRules<C> {
  listener: ListenerView;
  /** Per SNI of the listener: catch-all conf merged with the SNI-only rules for exactly that SNI. */
  bySni: Record<string, C | undefined>;
}

export interface MergedConf<C> {
  conf?: C;
  origins: Origin[];
}

export interface OutboundRules<C> extends MergedConf<C> {
  destination: DestinationView;
  /** `destinationKey(destination)`. */
  key: string;
}

export interface ProxyRules<C = Record<string, unknown>> {
  type: string;
  /** Every policy that selects the proxy (or part of it), least specific first. */
  policies: string[];
  /** Single-item kinds: the merged `spec.default`. */
  proxy?: MergedConf<C>;
  inbounds: InboundRules<C>[];
  listeners: ListenerRules<C>[];
  outbounds: OutboundRules<C>[];
  /** Conf of the `to` entries that name the whole mesh: what any other destination gets. */
  toMesh?: MergedConf<C>;
  /** All `to` entries of the selecting policies, least specific first (see `outboundConf`). */
  to: ToEntry<C>[];
}

interface PolicySpec {
  targetRef?: TargetRef;
  default?: unknown;
  from?: { targetRef?: TargetRef; default?: unknown }[];
  to?: { targetRef?: TargetRef; default?: unknown }[];
  rules?: { matches?: Match[]; default?: unknown }[];
}

function specOf(p: Resource): PolicySpec {
  return p.spec as PolicySpec;
}

/**
 * Everything one policy kind says about one proxy. `policies` are the mesh's policies of that kind
 * (others are ignored); `kind` defaults to the registered info of the policies' type.
 *
 * Memoized: per `policies` array (the same array, with the same elements), the policies of each
 * kind are sorted once, and the answer for a proxy is shared by every proxy that looks the same to
 * those policies (see policy-index.ts). The answer's confs are then shared: treat them as read-only.
 */
export function matchPolicies<C = Record<string, unknown>>(view: ProxyView, policies: readonly Resource[], kind?: string | PolicyKindInfo): ProxyRules<C> {
  const type = typeof kind === 'string' ? kind : (kind?.name ?? policies[0]?.type ?? '');
  const info = typeof kind === 'object' ? kind : policyKindInfo(type);
  const index = kindIndex(policies, view.mesh, type, info);
  const key = viewKey(index, view);
  if (key === undefined) return computeRules<C>(view, index.sorted, type, info);
  let rules = index.memo.get(key) as ProxyRules<C> | undefined;
  if (!rules) {
    // Proxies that look different often get the same policies (the mesh-wide ones, say): the
    // rules are then the same too, computed once per selection.
    const selected = selectPolicies(view, index.sorted);
    const selectionKey = JSON.stringify([
      selected.map(({ i, sel }) => [i, sel.inbounds.map((x) => view.inbounds.indexOf(x)), sel.listeners.map((x) => view.listeners.indexOf(x))]),
      view.inbounds.map(sectionOf),
      view.listeners.map((l) => [sectionOf(l), l.snis ?? null]),
      view.outbounds.map((d) => [d.kind, d.name, d.port ?? null, d.portName ?? null, d.labels ?? null]),
    ]);
    rules = index.bySelection.get(selectionKey) as ProxyRules<C> | undefined;
    if (!rules) {
      rules = computeRules<C>(view, index.sorted, type, info, selected);
      remember(index.bySelection, selectionKey, rules);
    }
    remember(index.memo, key, rules);
  }
  return withViewParts(rules, view);
}

/** The policies (of `sorted`, with their index there) that select the proxy or part of it. */
function selectPolicies(view: ProxyView, sorted: readonly Resource[]): { p: Resource; i: number; sel: Selection }[] {
  return sorted
    .map((p, i) => ({ p, i, sel: zoneAllows(p, view) ? selectProxy(topLevelRef(p), view) : undefined }))
    .filter((x): x is { p: Resource; i: number; sel: Selection } => x.sel?.proxy === true);
}

/** matchPolicies without the memo, from the kind's active policies in policy order. */
function computeRules<C>(view: ProxyView, sorted: readonly Resource[], type: string, info: PolicyKindInfo, selected = selectPolicies(view, sorted)): ProxyRules<C> {
  const appendPaths = info.appendPaths ?? [];

  const selectingSection = (pick: (sel: Selection) => boolean) => selected.filter(({ sel }) => pick(sel)).map(({ p }) => p);

  const inbounds = view.inbounds.map((inbound): InboundRules<C> => {
    const ps = selectingSection((sel) => sel.inbounds.includes(inbound));
    return { inbound, ...sectionRules<C>(sectionOf(inbound), ps, info) };
  });

  const listeners = view.listeners.map((listener): ListenerRules<C> => {
    const ps = selectingSection((sel) => sel.listeners.includes(listener));
    const rules = sectionRules<C>(sectionOf(listener), ps, info);
    const bySni: Record<string, C | undefined> = {};
    for (const sni of listener.snis ?? []) bySni[sni] = sniConf(rules.rules, sni, appendPaths);
    return { listener, ...rules, bySni };
  });

  const to = toEntries<C>(selected.map(({ p }) => p));
  const outbounds = view.outbounds.map((destination): OutboundRules<C> => ({
    destination,
    key: destinationKey(destination),
    ...outboundConf(to, destination, appendPaths),
  }));
  const meshEntries = to.filter((e) => e.targetRef.kind === 'Mesh');

  const rules: ProxyRules<C> = {
    type,
    policies: selected.map(({ p }) => p.name),
    inbounds,
    listeners,
    outbounds,
    to,
  };
  if (meshEntries.length > 0) rules.toMesh = merged(meshEntries, appendPaths);
  if (info.singleItem) {
    const withDefault = selected.filter(({ p }) => specOf(p).default !== undefined);
    rules.proxy = merged(
      withDefault.map(({ p }) => ({ conf: specOf(p).default as C, origin: { policy: p.name, section: 'default' as const, index: -1 } })),
      appendPaths,
    );
  }
  return rules;
}

/**
 * A remembered answer with the asking view's own inbounds, listeners and destinations (those of
 * the proxy that was asked first look the same to the policies but may differ, e.g. by address).
 */
function withViewParts<C>(rules: ProxyRules<C>, view: ProxyView): ProxyRules<C> {
  return {
    ...rules,
    inbounds: rules.inbounds.map((r, i) => ({ ...r, inbound: view.inbounds[i]! })),
    listeners: rules.listeners.map((r, i) => ({ ...r, listener: view.listeners[i]! })),
    outbounds: rules.outbounds.map((r, i) => ({ ...r, destination: view.outbounds[i]! })),
  };
}

function merged<C>(entries: readonly { conf: C; origin: Origin }[], appendPaths: readonly string[][]): MergedConf<C> {
  const conf = mergeConfs<C>(entries.map((e) => e.conf), appendPaths);
  return { ...(conf !== undefined ? { conf } : {}), origins: entries.map((e) => e.origin) };
}

/** Rules of one inbound or listener from the policies selecting it (already in policy order). */
function sectionRules<C>(section: string, policies: readonly Resource[], info: PolicyKindInfo): SectionRules<C> {
  const entries: Rule<C>[] = [];
  const from: FromEntry<C>[] = [];
  for (const p of policies) {
    const spec = specOf(p);
    if (spec.rules?.length) {
      spec.rules.forEach((r, index) => {
        const origin: Origin = { policy: p.name, section: 'rules', index };
        const conf = (r.default ?? {}) as C;
        if (r.matches?.length) for (const match of r.matches) entries.push({ match, conf, origin });
        else entries.push({ conf, origin });
      });
    } else if (spec.from?.length) {
      spec.from.forEach((f, index) => {
        const origin: Origin = { policy: p.name, section: 'from', index };
        if (info.fromAsRules) entries.push({ conf: (f.default ?? {}) as C, origin });
        else from.push({ targetRef: f.targetRef ?? { kind: 'Mesh' }, conf: (f.default ?? {}) as C, origin });
      });
    }
  }
  // Stable: most specific match first, policy order kept within a class.
  const rules = entries.map((r, i) => ({ r, i })).sort((a, b) => matchClass(a.r.match) - matchClass(b.r.match) || a.i - b.i).map(({ r }) => r);
  const catchAll = rules.filter((r) => !r.match);
  const conf = mergeConfs<C>(catchAll.map((r) => r.conf), info.appendPaths ?? []);
  return { section, policies: policies.map((p) => p.name), rules, ...(conf !== undefined ? { conf } : {}), from };
}

/** spiffeID Exact < Prefix < none, then SNI before no SNI: lower is more specific. */
export function matchClass(match: Match | undefined): number {
  if (!match) return 5;
  const spiffe = match.spiffeID ? (match.spiffeID.type === 'Prefix' ? 1 : 0) : 2;
  return spiffe * 2 + (match.sni ? 0 : 1);
}

function sniConf<C>(rules: readonly Rule<C>[], sni: string, appendPaths: readonly string[][]): C | undefined {
  const confs = [
    ...rules.filter((r) => !r.match).map((r) => r.conf),
    ...rules.filter((r) => r.match && !r.match.spiffeID && r.match.sni?.value === sni).map((r) => r.conf),
  ];
  return mergeConfs<C>(confs, appendPaths);
}

/** `to[]` entries of the given policies, least specific first (Kuma's `to` ordering). */
function toEntries<C>(policies: readonly Resource[]): ToEntry<C>[] {
  const entries: { e: ToEntry<C>; p: Resource }[] = [];
  for (const p of policies) {
    (specOf(p).to ?? []).forEach((t, index) => {
      entries.push({ p, e: { targetRef: t.targetRef ?? { kind: 'Mesh' }, conf: (t.default ?? {}) as C, origin: { policy: p.name, section: 'to', index } } });
    });
  }
  return entries
    .sort(
      (a, b) =>
        topLevelRank(topLevelRef(a.p)) - topLevelRank(topLevelRef(b.p)) ||
        originRank(a.p) - originRank(b.p) ||
        toRank(a.e.targetRef) - toRank(b.e.targetRef) ||
        compareNamesDescending(a.p, b.p) ||
        a.e.origin.index - b.e.origin.index,
    )
    .map(({ e }) => e);
}

const outboundConfs = new WeakMap<readonly ToEntry<unknown>[], Map<string, MergedConf<unknown>>>();

/**
 * Merged conf of the `to` entries naming a destination (any destination, listed or not).
 * Remembered per `to` list (a remembered answer of matchPolicies shares its list) and destination.
 */
export function outboundConf<C>(to: readonly ToEntry<C>[], destination: DestinationView, appendPaths: readonly string[][] = []): MergedConf<C> {
  if (to.length === 0) return { origins: [] };
  let byDestination = outboundConfs.get(to);
  if (!byDestination) outboundConfs.set(to, (byDestination = new Map()));
  const key = JSON.stringify([destination.kind, destination.name, destination.port ?? null, destination.portName ?? null, destination.labels ?? null, appendPaths]);
  let conf = byDestination.get(key) as MergedConf<C> | undefined;
  if (!conf) byDestination.set(key, (conf = merged(to.filter((e) => selectsDestination(e.targetRef, destination)), appendPaths)));
  return conf;
}

/** The rules of every registered policy kind that has a policy selecting the proxy, by kind name. */
export function rulesForProxy(view: ProxyView, policies: readonly Resource[], kinds: readonly PolicyKindInfo[] = registeredPolicyKinds()): ProxyRules[] {
  return kinds.map((k) => matchPolicies(view, policies.filter((p) => p.type === k.name), k)).filter((r) => r.policies.length > 0);
}
