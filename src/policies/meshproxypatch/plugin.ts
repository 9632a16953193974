// MeshProxyPatch → raw changes to a proxy's generated Envoy listeners and clusters (sidecars and
// mesh-scoped zone proxies alike), applied after every other policy. The `appendModifications` of
// all policies selecting the proxy run in order (least specific policy first), each on the result
// of the previous ones:
//   cluster / listener: Add (replaces one of the same name), Remove, Patch (proto merge of `value`:
//     messages merged, repeated fields appended, durations and scalars replaced; or `jsonPatches`,
//     RFC 6902 on the resource's proto3 JSON)
//   networkFilter: every filter chain of the matching listeners; httpFilter: every HTTP connection
//     manager of them: AddFirst / AddLast / AddBefore / AddAfter (next to the first filter named
//     match.name; nothing when there is none), Remove (by name, or all), Patch (merge into the
//     filter, its typed_config merged when of the same type; jsonPatches on the decoded typed_config)
//   virtualHost: route configurations embedded in the HCMs of listeners of the origin (and named
//     match.routeConfigurationName): Add, Remove / Patch by virtual host name (or all)
// `match.origin` is the generator that made the resource, named as Kuma names it: inbound, outbound,
// transparent (passthrough), ingress / egress (zone proxies); mesh-proxy-patch for added listeners,
// proxy-template-modifications for added clusters. Listener tags are the Dataplane inbound's or
// outbound's tags (or the listener's `io.kuma.tags` metadata).
// A modification the control plane cannot apply (a JSON patch path that does not exist, a field or
// type its Envoy protos do not have) throws ProxyPatchError: the proxy then keeps its last config.
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import YAML from 'yaml';
import type { Resource } from '../../api/resource.js';
import { TypeUrl } from '../../envoy/protos.js';
import { matchPolicies } from '../../policy-engine/index.js';
import { selectionViewOf } from '../common/plugin-view.js';
import { cachedResource, type CachedResource } from '../../xds/cache/snapshot.js';
import { networkingOf } from '../../xds/context/mesh-context.js';
import { VALUE_TYPE_URLS, type JsonPatch, type MeshProxyPatchConf, type MeshProxyPatchSpec, type Modification, type ModificationKind } from './api.js';
import { anyToJson, canonicalJson, jsonToAny, type Json, type JsonObject } from './envoy-json.js';

const HCM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const FILTER_TYPE_URL = VALUE_TYPE_URLS.networkFilter;
const HTTP_FILTER_TYPE_URL = VALUE_TYPE_URLS.httpFilter;
const VIRTUAL_HOST_TYPE_URL = VALUE_TYPE_URLS.virtualHost;

export class ProxyPatchError extends Error {}

/** Kuma's unified names of the passthrough listeners and clusters, matching Skein's (legacy) names. */
const UNIFIED_NAMES: Record<string, string> = {
  self_transparentproxy_passthrough_outbound_ipv4: 'outbound:passthrough:ipv4',
  self_transparentproxy_passthrough_outbound_ipv6: 'outbound:passthrough:ipv6',
  self_transparentproxy_passthrough_inbound_ipv4: 'inbound:passthrough:ipv4',
  self_transparentproxy_passthrough_inbound_ipv6: 'inbound:passthrough:ipv6',
};

function nameMatches(name: string, wanted: string | undefined): boolean {
  return wanted === undefined || name === wanted || UNIFIED_NAMES[wanted] === name;
}

/** One modification with the policy it comes from (for error messages). */
export interface SourcedModification {
  policy: string;
  index: number;
  kind: ModificationKind;
  modification: Modification;
}

/** The modifications that apply to the proxy, in the order they run. */
export function proxyPatchModifications(dp: Resource, policies: readonly Resource[]): SourcedModification[] {
  if (!policies.some((p) => p.type === 'MeshProxyPatch')) return [];
  const rules = matchPolicies<MeshProxyPatchConf>(selectionViewOf(dp), policies, 'MeshProxyPatch');
  const byName = new Map(policies.filter((p) => p.type === 'MeshProxyPatch').map((p) => [p.name, p]));
  const out: SourcedModification[] = [];
  for (const origin of rules.proxy?.origins ?? []) {
    const mods = (byName.get(origin.policy)?.spec as MeshProxyPatchSpec | undefined)?.default?.appendModifications ?? [];
    mods.forEach((mod, index) => {
      const kind = Object.keys(mod)[0] as ModificationKind | undefined;
      if (kind && mod[kind]) out.push({ policy: origin.policy, index, kind, modification: mod[kind] });
    });
  }
  return out;
}

interface Entry {
  typeUrl: string;
  name: string;
  origin: string;
  /** The generated resource, until a modification changes it. */
  cached?: CachedResource;
  /** proto3 JSON, decoded on first use. */
  json?: JsonObject;
  removed?: boolean;
}

/**
 * The proxy's resources after its MeshProxyPatch modifications; the very array when none applies,
 * and unchanged resources keep their encoded form.
 */
export function applyProxyPatches(dp: Resource, policies: readonly Resource[], resources: CachedResource[]): CachedResource[] {
  const mods = proxyPatchModifications(dp, policies);
  if (mods.length === 0) return resources;
  const state = new PatchState(dp, resources);
  for (const m of mods) {
    try {
      state.apply(m.kind, m.modification);
    } catch (err) {
      throw new ProxyPatchError(`MeshProxyPatch "${m.policy}": spec.default.appendModifications[${m.index}].${m.kind}: ${(err as Error).message}`, { cause: err });
    }
  }
  return state.result();
}

class PatchState {
  private readonly entries: Entry[];
  private readonly tagsByListener = new Map<string, Record<string, string>>();

  constructor(dp: Resource, resources: CachedResource[]) {
    this.entries = resources.map((r) => ({ typeUrl: r.any.type_url, name: r.name, origin: originOf(r.any.type_url, r.name), cached: r }));
    const net = networkingOf(dp);
    for (const inbound of net.inbound ?? []) this.tagsByListener.set(`inbound:${inbound.address ?? net.address}:${inbound.port}`, inbound.tags ?? {});
    for (const outbound of net.outbound ?? []) this.tagsByListener.set(`outbound:${outbound.address ?? '127.0.0.1'}:${outbound.port}`, outbound.tags ?? {});
  }

  apply(kind: ModificationKind, m: Modification): void {
    const touched = new Set<Entry>();
    if (kind === 'cluster' || kind === 'listener') this.resourceModification(kind, m, touched);
    else if (kind === 'networkFilter') this.filterModification(m, touched, (listener) => chainsOf(listener).map((chain) => list(chain, 'filters')), FILTER_TYPE_URL);
    else if (kind === 'httpFilter') this.filterModification(m, touched, (listener) => hcmsOf(listener).map((hcm) => list(hcm, 'httpFilters')), HTTP_FILTER_TYPE_URL);
    else this.virtualHostModification(m, touched);
    // Encode now, so a field the protos do not have is blamed on this modification.
    for (const entry of touched) {
      const any = jsonToAny({ ...entry.json!, '@type': entry.typeUrl });
      const name = entry.json!['name'];
      if (typeof name !== 'string' || !name) throw new Error(`the ${kind === 'cluster' ? 'cluster' : 'listener'} must have a name`);
      entry.name = name;
      entry.cached = cachedResource({ name, any });
      // Canonical again (a JSON patch may have written snake_case names) for the next modifications.
      entry.json = undefined;
    }
  }

  result(): CachedResource[] {
    const out = this.entries.filter((e) => !e.removed).map((e) => e.cached!);
    const seen = new Set<string>();
    for (const r of out) {
      const key = `${r.any.type_url} ${r.name}`;
      if (seen.has(key)) throw new ProxyPatchError(`MeshProxyPatch: two ${r.any.type_url.split('.').pop()} resources named "${r.name}" after the modifications`);
      seen.add(key);
    }
    return out;
  }

  private live(typeUrl: string): Entry[] {
    return this.entries.filter((e) => e.typeUrl === typeUrl && !e.removed);
  }

  private jsonOf(entry: Entry): JsonObject {
    if (!entry.json) {
      entry.json = anyToJson(entry.cached!.any);
      delete entry.json['@type'];
    }
    return entry.json;
  }

  private listenerMatches(entry: Entry, match: { origin?: string; name?: string; tags?: Record<string, string> } = {}): boolean {
    if (match.origin !== undefined && entry.origin !== match.origin) return false;
    if (!nameMatches(entry.name, match.name)) return false;
    if (match.tags && Object.keys(match.tags).length) {
      const metadata = this.jsonOf(entry)['metadata'] as { filterMetadata?: Record<string, Record<string, string>> } | undefined;
      const tags = metadata?.filterMetadata?.['io.kuma.tags'] ?? this.tagsByListener.get(entry.name) ?? {};
      if (!Object.entries(match.tags).every(([k, v]) => tags[k] === v)) return false;
    }
    return true;
  }

  private resourceModification(kind: 'cluster' | 'listener', m: Modification, touched: Set<Entry>): void {
    const typeUrl = kind === 'cluster' ? TypeUrl.Cluster : TypeUrl.Listener;
    const matches = (e: Entry) =>
      kind === 'cluster' ? (m.match?.origin === undefined || e.origin === m.match.origin) && nameMatches(e.name, m.match?.name) : this.listenerMatches(e, m.match);
    if (m.operation === 'Add') {
      const json = canonicalJson(typeUrl, parseValue(m.value));
      const name = json['name'];
      if (typeof name !== 'string' || !name) throw new Error(`value: the ${kind} must have a name`);
      for (const e of this.live(typeUrl)) if (e.name === name) e.removed = true;
      const entry: Entry = { typeUrl, name, origin: kind === 'cluster' ? 'proxy-template-modifications' : 'mesh-proxy-patch', json };
      this.entries.push(entry);
      touched.add(entry);
      return;
    }
    for (const entry of this.live(typeUrl).filter(matches)) {
      if (m.operation === 'Remove') entry.removed = true;
      else {
        entry.json = patched(typeUrl, this.jsonOf(entry), m);
        touched.add(entry);
      }
    }
  }

  private matchingListeners(match: Modification['match'] = {}): Entry[] {
    return this.live(TypeUrl.Listener).filter((e) => nameMatches(e.name, match.listenerName) && this.listenerMatches(e, { origin: match.origin, tags: match.listenerTags }));
  }

  /** Filter operations on every filter list `listsOf` finds in the matching listeners. */
  private filterModification(m: Modification, touched: Set<Entry>, listsOf: (listener: JsonObject) => JsonObject[][], valueTypeUrl: string): void {
    const name = m.match?.name;
    const value = m.value !== undefined ? canonicalJson(valueTypeUrl, parseValue(m.value)) : undefined;
    for (const entry of this.matchingListeners(m.match)) {
      let changed = false;
      for (const filters of listsOf(this.jsonOf(entry))) {
        const at = name === undefined ? -1 : filters.findIndex((f) => f['name'] === name);
        switch (m.operation) {
          case 'AddFirst':
            filters.unshift(clone(value!));
            break;
          case 'AddLast':
            filters.push(clone(value!));
            break;
          case 'AddBefore':
          case 'AddAfter':
            if (at < 0) continue;
            filters.splice(m.operation === 'AddBefore' ? at : at + 1, 0, clone(value!));
            break;
          case 'Remove': {
            const kept = filters.filter((f) => name !== undefined && f['name'] !== name);
            if (kept.length === filters.length) continue;
            filters.splice(0, filters.length, ...kept);
            break;
          }
          case 'Patch': {
            const targets = filters.filter((f) => f['name'] === name);
            if (targets.length === 0) continue;
            for (const filter of targets) {
              if (value) mergeJson(filter, value);
              else filter['typedConfig'] = patchTypedConfig(filter['typedConfig'], m.jsonPatches ?? []);
            }
            break;
          }
          default:
            throw new Error(`operation ${m.operation} is not supported`);
        }
        changed = true;
      }
      if (changed) touched.add(entry);
    }
  }

  private virtualHostModification(m: Modification, touched: Set<Entry>): void {
    const value = m.value !== undefined ? canonicalJson(VIRTUAL_HOST_TYPE_URL, parseValue(m.value)) : undefined;
    for (const entry of this.live(TypeUrl.Listener).filter((e) => m.match?.origin === undefined || e.origin === m.match.origin)) {
      let changed = false;
      for (const hcm of hcmsOf(this.jsonOf(entry))) {
        const routeConfig = hcm['routeConfig'];
        if (!isObject(routeConfig)) continue;
        if (m.match?.routeConfigurationName !== undefined && routeConfig['name'] !== m.match.routeConfigurationName) continue;
        const vhosts = list(routeConfig, 'virtualHosts');
        const selected = (vh: JsonObject) => m.match?.name === undefined || vh['name'] === m.match.name;
        if (m.operation === 'Add') vhosts.push(clone(value!));
        else if (m.operation === 'Remove') {
          const kept = vhosts.filter((vh) => !selected(vh));
          if (kept.length === vhosts.length) continue;
          vhosts.splice(0, vhosts.length, ...kept);
        } else {
          const targets = vhosts.filter(selected);
          if (targets.length === 0) continue;
          for (const vh of targets) {
            const next = patched(VIRTUAL_HOST_TYPE_URL, vh, m);
            for (const k of Object.keys(vh)) delete vh[k];
            Object.assign(vh, next);
          }
        }
        changed = true;
      }
      if (changed) touched.add(entry);
    }
  }
}

/** Kuma's origin of a generated resource, from its type and name. */
function originOf(typeUrl: string, name: string): string {
  if (name.startsWith('outbound:passthrough') || name.startsWith('inbound:passthrough')) return 'transparent';
  if (typeUrl === TypeUrl.Listener) {
    if (name.startsWith('inbound:')) return 'inbound';
    if (name.startsWith('outbound:')) return 'outbound';
    if (name.startsWith('self_zoneingress')) return 'ingress';
    if (name.startsWith('self_zoneegress')) return 'egress';
    return 'unknown';
  }
  if (typeUrl === TypeUrl.Cluster) {
    if (name.startsWith('localhost:')) return 'inbound';
    if (name.startsWith('ingress:')) return 'ingress';
    if (name.startsWith('egress:')) return 'egress';
    return 'outbound';
  }
  return 'secrets';
}

function parseValue(value: string | undefined): JsonObject {
  const parsed: unknown = YAML.parse(value ?? '');
  if (!isObject(parsed)) throw new Error('value: must be an object');
  return parsed as JsonObject;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** The array at obj[key], created when missing (so additions land in the resource). */
function list(obj: JsonObject, key: string): JsonObject[] {
  if (!Array.isArray(obj[key])) obj[key] = [];
  return obj[key] as JsonObject[];
}

function chainsOf(listener: JsonObject): JsonObject[] {
  const chains = Array.isArray(listener['filterChains']) ? (listener['filterChains'] as JsonObject[]) : [];
  return isObject(listener['defaultFilterChain']) ? [...chains, listener['defaultFilterChain']] : chains;
}

function hcmsOf(listener: JsonObject): JsonObject[] {
  return chainsOf(listener)
    .flatMap((chain) => (Array.isArray(chain['filters']) ? (chain['filters'] as JsonObject[]) : []))
    .map((f) => f['typedConfig'])
    .filter((c): c is JsonObject => isObject(c) && c['@type'] === HCM_TYPE_URL);
}

/** A resource (or virtual host) after a Patch: `value` merged in, or the JSON patches applied. */
function patched(typeUrl: string, json: JsonObject, m: Modification): JsonObject {
  if (m.value !== undefined) return mergeJson(clone(json), canonicalJson(typeUrl, parseValue(m.value)));
  return applyJsonPatches(json, m.jsonPatches ?? []);
}

/**
 * Proto merge on proto3 JSON: messages merged field by field, lists appended, anything else
 * (scalars, durations, wrappers, an Any of another type) replaced.
 */
function mergeJson(dst: JsonObject, src: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(src)) {
    const current = dst[key];
    if (isObject(current) && isObject(value) && current['@type'] === value['@type']) mergeJson(current, value);
    else if (Array.isArray(current) && Array.isArray(value)) current.push(...clone(value));
    else dst[key] = clone(value);
  }
  return dst;
}

function patchTypedConfig(typedConfig: Json | undefined, patches: JsonPatch[]): JsonObject {
  if (!isObject(typedConfig)) throw new Error('the filter has no typed_config to patch');
  const { ['@type']: typeUrl, ...message } = typedConfig;
  return { '@type': typeUrl!, ...applyJsonPatches(message, patches) };
}

/** RFC 6902 on a copy. Paths use proto3 JSON names; a snake_case segment is read as camelCase. */
function applyJsonPatches(json: JsonObject, patches: JsonPatch[]): JsonObject {
  let doc: Json = clone(json);
  patches.forEach((p, i) => {
    const op = { ...p, path: jsonNamePointer(doc, p.path ?? ''), ...(p.from !== undefined ? { from: jsonNamePointer(doc, p.from) } : {}) } as Operation;
    try {
      doc = fastJsonPatch.applyOperation(doc, op, true, true).newDocument as Json;
    } catch (err) {
      throw new Error(`jsonPatches[${i}] (${p.op} ${p.path}): ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
  });
  if (!isObject(doc)) throw new Error('jsonPatches must leave an object');
  return doc;
}

function jsonNamePointer(doc: Json, pointer: string): string {
  if (!pointer) return pointer;
  let node: Json | undefined = doc;
  const segments = pointer
    .split('/')
    .slice(1)
    .map((raw) => {
      let key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (isObject(node) && !(key in node) && key.includes('_')) key = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
      return key.replace(/~/g, '~0').replace(/\//g, '~1');
    });
  return `/${segments.join('/')}`;
}

/** A generated proxy config (sidecar or zone proxy) with its MeshProxyPatch modifications applied. */
export function withProxyPatches<T extends { resources: CachedResource[] }>(dp: Resource, policies: readonly Resource[], config: T): T {
  const resources = applyProxyPatches(dp, policies, config.resources);
  return resources === config.resources ? config : { ...config, resources };
}
