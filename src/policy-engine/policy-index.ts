// The engine's memory, so that 10,000 proxies of 1,000 services do not each sort and match every
// policy: per array of policies (a MeshContext's, say), per mesh and kind, the active policies in
// policy order (sorted once), and per "what a proxy looks like to these policies" the answer. Two
// proxies look the same when they differ only in what no policy of the kind reads: a name no
// Dataplane targetRef names, labels and inbound tags no targetRef selects by, addresses.
import type { Labels, Resource } from '../api/resource.js';
import { DISPLAY_NAME_LABEL, NAMESPACE_LABEL, ZONE_LABEL } from '../api/well-known.js';
import type { PolicyKindInfo } from './kinds.js';
import type { ProxyView } from './proxy-view.js';
import { sortPolicies, topLevelRef } from './select.js';

export interface KindIndex {
  /** The kind's policies of the mesh that take part (not `kuma.io/effect: shadow`), least specific first. */
  sorted: Resource[];
  /** Proxy label keys a top-level targetRef (or the zone gate) reads, sorted. */
  labelKeys: string[];
  /** Inbound tag keys a top-level targetRef reads, sorted. */
  tagKeys: string[];
  /** Dataplane names top-level targetRefs name. */
  names: Set<string>;
  /** Answers by viewKey (undefined key: not remembered, the kind has no policy). */
  memo: Map<string, unknown>;
  /** Answers by which policies select which sections (and the sections and destinations asked about). */
  bySelection: Map<string, unknown>;
}

interface PolicyIndex {
  /** The array's elements when indexed: a changed array is indexed again. */
  source: Resource[];
  kinds: Map<string, KindIndex>;
}

/** Answers kept per kind; past this many distinct proxy looks, the memo starts over. */
const MEMO_LIMIT = 20_000;

const indexes = new WeakMap<readonly Resource[], PolicyIndex>();
const infoKeys = new WeakMap<PolicyKindInfo, string>();

function sameElements(a: readonly Resource[], b: readonly Resource[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function infoKey(info: PolicyKindInfo): string {
  let key = infoKeys.get(info);
  if (key === undefined) infoKeys.set(info, (key = JSON.stringify(info)));
  return key;
}

/** The index of one kind's policies of one mesh in `policies`, built on first use. */
export function kindIndex(policies: readonly Resource[], mesh: string, type: string, info: PolicyKindInfo): KindIndex {
  let index = indexes.get(policies);
  if (!index || !sameElements(index.source, policies)) indexes.set(policies, (index = { source: [...policies], kinds: new Map() }));
  const key = `${mesh}\0${type}\0${infoKey(info)}`;
  let kind = index.kinds.get(key);
  if (!kind) index.kinds.set(key, (kind = buildKindIndex(policies.filter((p) => p.mesh === mesh && p.type === type && p.labels['kuma.io/effect'] !== 'shadow'))));
  return kind;
}

function buildKindIndex(active: Resource[]): KindIndex {
  const labelKeys = new Set([ZONE_LABEL, DISPLAY_NAME_LABEL, NAMESPACE_LABEL]);
  const tagKeys = new Set<string>();
  const names = new Set<string>();
  for (const p of active) {
    const ref = topLevelRef(p);
    if (ref.kind === 'Dataplane') {
      for (const k of Object.keys(ref.labels ?? {})) labelKeys.add(k);
      if (ref.name !== undefined) names.add(ref.name);
    }
    if (ref.kind === 'MeshSubset' || ref.kind === 'MeshServiceSubset') for (const k of Object.keys(ref.tags ?? {})) tagKeys.add(k);
    if (ref.kind === 'MeshService' || ref.kind === 'MeshServiceSubset') tagKeys.add('kuma.io/service');
  }
  return { sorted: sortPolicies(active), labelKeys: [...labelKeys].sort(), tagKeys: [...tagKeys].sort(), names, memo: new Map(), bySelection: new Map() };
}

function pick(labels: Labels | undefined, keys: readonly string[]): (string | null)[] {
  return keys.map((k) => labels?.[k] ?? null);
}

/**
 * Everything of the view the kind's policies can read (see select.ts and rules.ts): proxy type,
 * gateway, selected labels, the name if a targetRef names it, inbound sections and selected tags,
 * listener sections and SNIs, destinations. Undefined when the kind has no policy (nothing to keep).
 */
export function viewKey(index: KindIndex, view: ProxyView): string | undefined {
  if (index.sorted.length === 0) return undefined;
  return JSON.stringify([
    view.proxyType,
    view.builtinGateway,
    view.gatewayTags ?? null,
    pick(view.labels, index.labelKeys),
    index.names.has(view.name) ? view.name : null,
    view.inbounds.map((i) => [i.name ?? '', i.port, pick(i.tags, index.tagKeys)]),
    view.listeners.map((l) => [l.type, l.name, l.port, l.snis ?? null]),
    view.outbounds.map((d) => [d.kind, d.name, d.port ?? null, d.portName ?? null, d.labels ?? null]),
  ]);
}

export function remember(memo: Map<string, unknown>, key: string, answer: unknown): void {
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, answer);
}
