import { describe, expect, it } from 'vitest';
import { validateResource } from '../../api/index.js';
import type { Resource } from '../../api/resource.js';
import '../kinds.js';
import { valueWarnings } from './api.js';

const ctx = { mode: 'standalone', environment: 'universal' } as const;

function errors(type: string, spec: unknown, name = 'p'): string[] {
  const res: Resource = { type, mesh: 'default', name, labels: {}, spec: spec as Record<string, unknown>, version: 1, creationTime: '', modificationTime: '' };
  return validateResource(res, ctx).map((v) => `${v.field}: ${v.reason}`);
}

const mpp = (spec: unknown) => errors('MeshProxyPatch', spec);
const mods = (...appendModifications: unknown[]) => ({ targetRef: { kind: 'Mesh' }, default: { appendModifications } });

describe('MeshProxyPatch validation', () => {
  it('accepts the documented forms', () => {
    expect(mpp(mods(
      { cluster: { operation: 'Add', value: 'name: test-cluster\nconnectTimeout: 5s\ntype: STATIC' } },
      { cluster: { match: { name: 'test-cluster' }, operation: 'Patch', jsonPatches: [{ op: 'replace', path: '/connectTimeout', value: '1s' }] } },
      { listener: { match: { name: 'inbound:10.0.0.1:8080' }, operation: 'Remove' } },
      { networkFilter: { match: { name: 'envoy.filters.network.tcp_proxy' }, operation: 'AddBefore', value: 'name: envoy.filters.network.local_ratelimit' } },
      { httpFilter: { match: { name: 'envoy.filters.http.router' }, operation: 'Patch', value: 'name: envoy.filters.http.router' } },
      { virtualHost: { match: { routeConfigurationName: 'outbound:backend' }, operation: 'Add', value: 'name: vh\ndomains: ["*"]' } },
    ))).toEqual([]);
    // Zone proxies: the whole proxy, selected by the computed listener label.
    expect(mpp({ targetRef: { kind: 'Dataplane', labels: { 'kuma.io/listener-zoneegress': 'enabled' } }, default: { appendModifications: [{ cluster: { operation: 'Remove', match: { origin: 'egress' } } }] } })).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['no default', { targetRef: { kind: 'Mesh' } }, ['spec.default: must be defined']],
    ['empty list', mods(), ['spec.default.appendModifications: must not be empty']],
    ['two at once', mods({ cluster: { operation: 'Remove' }, listener: { operation: 'Remove' } }), ['spec.default.appendModifications[0]: exactly one modification can be defined at a time. Currently, 2 modifications are defined']],
    ['bad operation', mods({ cluster: { operation: 'AddFirst', value: 'a: 1' } }), ['spec.default.appendModifications[0].cluster.operation: invalid operation. Available operations: "Add", "Patch", "Remove"']],
    ['bad filter operation', mods({ httpFilter: { operation: 'Add', value: 'a: 1' } }), ['spec.default.appendModifications[0].httpFilter.operation: invalid operation. Available operations: "AddFirst", "AddLast", "AddBefore", "AddAfter", "Patch", "Remove"']],
    ['add with match', mods({ cluster: { operation: 'Add', match: { name: 'x' }, value: 'a: 1' } }), ['spec.default.appendModifications[0].cluster.match: must not be defined']],
    ['add without value', mods({ listener: { operation: 'Add' } }), ['spec.default.appendModifications[0].listener.value: must be defined']],
    ['invalid yaml', mods({ cluster: { operation: 'Add', value: 'a: [' } }), ['spec.default.appendModifications[0].cluster.value: native Envoy resource is not valid: Flow sequence in block collection must be sufficiently indented and end with a ] at line 1, column 5:']],
    ['add before without name', mods({ networkFilter: { operation: 'AddBefore', value: 'a: 1' } }), ['spec.default.appendModifications[0].networkFilter.match.name: must be defined. You need to pick a filter before which this one will be added']],
    ['filter patch without name', mods({ httpFilter: { operation: 'Patch', value: 'a: 1' } }), ['spec.default.appendModifications[0].httpFilter.match.name: must be defined']],
    ['patch both', mods({ cluster: { operation: 'Patch', value: 'a: 1', jsonPatches: [{ op: 'remove', path: '/a' }] } }), ['spec.default.appendModifications[0].cluster: cluster must have only one type defined: value, jsonPatches']],
    ['patch neither', mods({ cluster: { operation: 'Patch' } }), ['spec.default.appendModifications[0].cluster: cluster must have exactly one defined: value, jsonPatches']],
    ['remove with value', mods({ cluster: { operation: 'Remove', value: 'a: 1' } }), ['spec.default.appendModifications[0].cluster.value: must not be defined']],
    ['json patch op', mods({ cluster: { operation: 'Patch', jsonPatches: [{ op: 'test', path: '/a' }] } }), ['spec.default.appendModifications[0].cluster.jsonPatches[0].op: "op" must be one of ["add", "remove", "replace", "move", "copy"]']],
    ['json patch root', mods({ cluster: { operation: 'Patch', jsonPatches: [{ op: 'remove', path: '/' }] } }), ['spec.default.appendModifications[0].cluster.jsonPatches[0].path: root path cannot be removed']],
    ['json patch value', mods({ cluster: { operation: 'Patch', jsonPatches: [{ op: 'add', path: '/a' }] } }), ['spec.default.appendModifications[0].cluster.jsonPatches[0].value: must be defined']],
    ['sectionName', { targetRef: { kind: 'Dataplane', sectionName: '10002' }, default: { appendModifications: [{ cluster: { operation: 'Remove' } }] } }, ['spec.targetRef.sectionName: can only be used with inbound policies']],
  ])('%s', (_name, spec, want) => {
    expect(mpp(spec)).toEqual(want);
  });
});

describe('MeshProxyPatch value warnings', () => {
  it('warns about a value the control plane cannot encode, naming the field', () => {
    const res = { type: 'MeshProxyPatch', mesh: 'default', name: 'w', labels: {}, version: 1, creationTime: '', modificationTime: '', spec: { targetRef: { kind: 'Mesh' }, default: { appendModifications: [
      { cluster: { operation: 'Add', value: 'name: c\nconnectTimeout: 5s' } },
      { cluster: { operation: 'Add', value: 'name: c\nconectTimeout: 5s' } },
      { httpFilter: { match: { name: 'envoy.filters.http.router' }, operation: 'AddBefore', value: "name: f\ntypedConfig: {'@type': type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope}" } },
    ] } } };
    expect(valueWarnings(res)).toEqual([
      'spec.default.appendModifications[1].cluster.value: cannot be encoded as envoy.config.cluster.v3.Cluster: conectTimeout: unknown field "conectTimeout" in envoy.config.cluster.v3.Cluster; the proxies it applies to keep their last configuration',
      'spec.default.appendModifications[2].httpFilter.value: cannot be encoded as envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter: typedConfig.@type: type "type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope" is not known to the control plane; the proxies it applies to keep their last configuration',
    ]);
  });
});
