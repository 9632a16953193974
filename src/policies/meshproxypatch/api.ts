// MeshProxyPatch (Kuma 2.14): raw changes to a proxy's Envoy resources (clusters, listeners,
// network and HTTP filters, virtual hosts), applied after every other policy. Proxy-wide: the
// `appendModifications` of all selecting policies are concatenated, least specific first.
import YAML from 'yaml';
import { Violations, type Resource } from '../../api/resource.js';
import { arrayOf, object, string, stringMap, type Schema } from '../../api/schema.js';
import type { PolicyKindInfo } from '../../policy-engine/kinds.js';
import { targetRefSchema, type TargetRef } from '../../policy-engine/target-ref.js';
import { anyValue, checkTargetRefs, commonWarnings, policyDescriptor, policySchema } from '../common/validate.js';
import { canonicalJson, type JsonObject } from './envoy-json.js';

export interface JsonPatch {
  op?: string;
  path?: string;
  value?: unknown;
  from?: string;
}

export interface Modification {
  match?: { origin?: string; name?: string; tags?: Record<string, string>; listenerName?: string; listenerTags?: Record<string, string>; routeConfigurationName?: string };
  operation?: string;
  value?: string;
  jsonPatches?: JsonPatch[];
}

export type ModificationKind = 'cluster' | 'listener' | 'networkFilter' | 'httpFilter' | 'virtualHost';

export interface MeshProxyPatchConf {
  appendModifications?: Partial<Record<ModificationKind, Modification>>[];
}

export interface MeshProxyPatchSpec {
  targetRef?: TargetRef;
  default?: MeshProxyPatchConf;
}

const jsonPatches = arrayOf(object({ op: string, path: string, value: anyValue, from: string }));
const modification = (match: Record<string, Schema>) => object({ match: object(match), operation: string, value: string, jsonPatches });
const filterMatch = { origin: string, name: string, listenerName: string, listenerTags: stringMap };

export const meshProxyPatchSchema = policySchema(targetRefSchema, {
  default: object({
    appendModifications: arrayOf(
      object({
        cluster: modification({ origin: string, name: string }),
        listener: modification({ origin: string, name: string, tags: stringMap }),
        networkFilter: modification(filterMatch),
        httpFilter: modification(filterMatch),
        virtualHost: modification({ origin: string, name: string, routeConfigurationName: string }),
      }),
    ),
  }),
});

const RESOURCE_OPS = ['Add', 'Patch', 'Remove'];
const FILTER_OPS = ['AddFirst', 'AddLast', 'AddBefore', 'AddAfter', 'Patch', 'Remove'];
const JSON_PATCH_OPS = ['add', 'remove', 'replace', 'move', 'copy'];

function checkValue(v: Violations, at: string, value: string): void {
  try {
    const parsed: unknown = YAML.parse(value);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) v.add(`${at}.value`, 'native Envoy resource is not valid: must be an object');
  } catch (err) {
    v.add(`${at}.value`, `native Envoy resource is not valid: ${(err as Error).message.split('\n')[0]}`);
  }
}

function checkJsonPatches(v: Violations, at: string, patches: JsonPatch[]): void {
  if (patches.length === 0) v.add(`${at}.jsonPatches`, 'must not be empty');
  patches.forEach((p, k) => {
    const j = `${at}.jsonPatches[${k}]`;
    if (!p.op || !JSON_PATCH_OPS.includes(p.op)) v.add(`${j}.op`, `"op" must be one of [${JSON_PATCH_OPS.map((o) => `"${o}"`).join(', ')}]`);
    if (p.path === undefined) v.add(`${j}.path`, 'must be defined');
    else if (p.op === 'remove' && (p.path === '' || p.path === '/')) v.add(`${j}.path`, 'root path cannot be removed');
    if (p.from !== undefined && p.op !== 'move' && p.op !== 'copy') v.add(`${j}.from`, 'must not be defined');
    if ((p.op === 'move' || p.op === 'copy') && p.from === undefined) v.add(`${j}.from`, 'must be defined');
    if ((p.op === 'add' || p.op === 'replace') && p.value === undefined) v.add(`${j}.value`, 'must be defined');
    if (p.value !== undefined && p.op !== 'add' && p.op !== 'replace') v.add(`${j}.value`, 'must not be defined');
  });
}

function checkModification(v: Violations, at: string, kind: ModificationKind, m: Modification): void {
  const isFilter = kind === 'networkFilter' || kind === 'httpFilter';
  const ops = isFilter ? FILTER_OPS : RESOURCE_OPS;
  if (!m.operation || !ops.includes(m.operation)) {
    v.add(`${at}.operation`, `invalid operation. Available operations: ${ops.map((o) => `"${o}"`).join(', ')}`);
    return;
  }
  const op = m.operation;
  if (op.startsWith('Add')) {
    if (op === 'Add' && kind !== 'virtualHost' && m.match !== undefined) v.add(`${at}.match`, 'must not be defined');
    if (op === 'Add' && kind === 'virtualHost' && m.match?.name !== undefined) v.add(`${at}.match.name`, 'must not be defined');
    if (m.value === undefined) v.add(`${at}.value`, 'must be defined');
    else checkValue(v, at, m.value);
    if ((op === 'AddBefore' || op === 'AddAfter') && !m.match?.name) {
      v.add(`${at}.match.name`, `must be defined. You need to pick a filter ${op === 'AddBefore' ? 'before' : 'after'} which this one will be added`);
    }
  } else if (op === 'Patch') {
    if (isFilter && !m.match?.name) v.add(`${at}.match.name`, 'must be defined');
    if (m.value !== undefined && m.jsonPatches !== undefined) v.add(at, `${kind} must have only one type defined: value, jsonPatches`);
    else if (m.value === undefined && m.jsonPatches === undefined) v.add(at, `${kind} must have exactly one defined: value, jsonPatches`);
    else if (m.value !== undefined) checkValue(v, at, m.value);
    else checkJsonPatches(v, at, m.jsonPatches!);
  } else if (op === 'Remove' && m.value !== undefined) {
    v.add(`${at}.value`, 'must not be defined');
  }
}

export function validateMeshProxyPatch(res: Resource): Violations {
  const spec = res.spec as MeshProxyPatchSpec;
  const v = new Violations();
  checkTargetRefs(v, spec, { topLevel: ['Mesh', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'MeshGateway', 'Dataplane'] });
  if (!spec.default) {
    v.add('spec.default', 'must be defined');
    return v;
  }
  const mods = spec.default.appendModifications ?? [];
  if (mods.length === 0) v.add('spec.default.appendModifications', 'must not be empty');
  mods.forEach((mod, i) => {
    const at = `spec.default.appendModifications[${i}]`;
    const kinds = Object.keys(mod) as ModificationKind[];
    if (kinds.length !== 1) {
      v.add(at, `exactly one modification can be defined at a time. Currently, ${kinds.length} modifications are defined`);
      return;
    }
    checkModification(v, `${at}.${kinds[0]}`, kinds[0]!, mod[kinds[0]!]!);
  });
  return v;
}

export const meshProxyPatchKind: PolicyKindInfo = { name: 'MeshProxyPatch', singleItem: true, appendPaths: [['appendModifications']] };

/** The Envoy message a modification's `value` is. */
export const VALUE_TYPE_URLS: Record<ModificationKind, string> = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  networkFilter: 'type.googleapis.com/envoy.config.listener.v3.Filter',
  httpFilter: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter',
  virtualHost: 'type.googleapis.com/envoy.config.route.v3.VirtualHost',
};

/**
 * Values the control plane cannot encode (a field or type its Envoy protos lack): warned about when
 * the policy is stored, since every proxy it applies to would keep its last config.
 */
export function valueWarnings(res: Resource): string[] {
  const out: string[] = [];
  ((res.spec as MeshProxyPatchSpec).default?.appendModifications ?? []).forEach((mod, i) => {
    for (const [kind, m] of Object.entries(mod) as [ModificationKind, Modification][]) {
      if (typeof m?.value !== 'string') continue;
      try {
        const parsed: unknown = YAML.parse(m.value);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) canonicalJson(VALUE_TYPE_URLS[kind], parsed as JsonObject);
      } catch (err) {
        out.push(`spec.default.appendModifications[${i}].${kind}.value: cannot be encoded as ${VALUE_TYPE_URLS[kind].split('/')[1]}: ${(err as Error).message}; the proxies it applies to keep their last configuration`);
      }
    }
  });
  return out;
}

export const meshProxyPatchDescriptor = policyDescriptor('MeshProxyPatch', 'mpp', 'Mesh Proxy Patch', meshProxyPatchSchema, validateMeshProxyPatch, { warnings: (res) => [...commonWarnings(res), ...valueWarnings(res)] });
