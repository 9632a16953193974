import { describe, expect, it } from 'vitest';
import { fromWire, parseDocuments, registerDescriptor, toWire, type ResourceDescriptor } from './index.js';
import type { Resource } from './resource.js';

const times = { creationTime: '2024-05-01T10:00:00.123Z', modificationTime: '2024-05-02T10:00:00.456Z' };

const statusKind: ResourceDescriptor = {
  name: 'TestService',
  scope: 'Mesh',
  path: 'testservices',
  cliArg: 'testservice',
  cliListArg: 'testservices',
  singularDisplayName: 'Test Service',
  pluralDisplayName: 'Test Services',
  shortName: 'tsvc',
  flat: false,
  hasStatus: true,
  schema: { type: 'object' },
};
registerDescriptor(statusKind);

describe('toWire', () => {
  it('flattens a legacy kind in Kuma field order', () => {
    const dp: Resource = {
      type: 'Dataplane',
      mesh: 'default',
      name: 'dp-1',
      labels: { 'kuma.io/zone': 'z1' },
      spec: { networking: { address: '10.0.0.1' } },
      version: 3,
      ...times,
    };
    const wire = toWire(dp);
    expect(Object.keys(wire)).toEqual(['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'labels', 'kri', 'networking']);
    expect(wire['kri']).toBe('kri_dp_default_z1__dp-1_');
  });

  it('omits mesh for Global kinds, empty labels and an empty spec', () => {
    const m: Resource = { type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {}, version: 1, ...times };
    expect(toWire(m)).toEqual({ type: 'Mesh', name: 'default', ...times, kri: 'kri_m____default_' });
    const s: Resource = { type: 'GlobalSecret', mesh: '', name: 'k', labels: {}, spec: { data: 'YQ==' }, version: 1, ...times };
    expect(toWire(s)).toEqual({ type: 'GlobalSecret', name: 'k', ...times, data: 'YQ==' });
  });

  it('nests spec and status for plugin kinds', () => {
    const r: Resource = { type: 'TestService', mesh: 'm1', name: 's', labels: {}, spec: { ports: [] }, status: { vips: [] }, version: 1, ...times };
    expect(Object.keys(toWire(r))).toEqual(['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'kri', 'spec', 'status']);
  });
});

describe('fromWire', () => {
  it('round-trips legacy and plugin kinds', () => {
    const resources: Resource[] = [
      { type: 'Dataplane', mesh: 'default', name: 'dp-1', labels: { a: 'b' }, spec: { networking: { address: '10.0.0.1', inbound: [{ port: 80 }] } }, version: 1, ...times },
      { type: 'Mesh', mesh: '', name: 'default', labels: {}, spec: { mtls: { enabledBackend: 'ca' } }, version: 1, ...times },
      { type: 'TestService', mesh: 'm1', name: 's', labels: {}, spec: { ports: [1] }, status: { vips: ['1.1.1.1'] }, version: 1, ...times },
    ];
    for (const r of resources) {
      const back = fromWire(JSON.parse(JSON.stringify(toWire(r))));
      expect(back.violations).toEqual([]);
      expect(back.resource).toEqual({ type: r.type, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec, ...(r.status ? { status: r.status } : {}) });
    }
  });

  it.each<[string, unknown, { field: string; reason: string }[], boolean]>([
    ['not an object', [1], [{ field: '', reason: 'resource must be an object' }], false],
    ['no type', { name: 'x' }, [{ field: 'type', reason: 'cannot be empty' }], false],
    ['unknown type', { type: 'Foo', name: 'x' }, [{ field: 'type', reason: 'invalid resource type "Foo"' }], false],
    ['no name', { type: 'Mesh' }, [{ field: 'name', reason: 'cannot be empty' }], true],
    ['name not a string', { type: 'Mesh', name: 5 }, [{ field: 'name', reason: 'must be a string' }], true],
    ['legacy kind without mesh', { type: 'Dataplane', name: 'dp' }, [{ field: 'mesh', reason: 'cannot be empty' }], true],
    ['bad labels', { type: 'Mesh', name: 'm', labels: { a: 1 } }, [{ field: 'labels["a"]', reason: 'must be a string' }], true],
    ['labels not a map', { type: 'Mesh', name: 'm', labels: 'a=b' }, [{ field: 'labels', reason: 'must be an object' }], true],
    ['plugin kind with a stray field', { type: 'TestService', name: 's', sepc: {} }, [{ field: 'sepc', reason: 'unknown field "sepc"' }], true],
  ])('%s', (_name, input, violations, hasResource) => {
    const out = fromWire(input);
    expect(out.violations).toEqual(violations);
    expect(out.resource !== undefined).toBe(hasResource);
  });

  it('defaults the mesh of plugin kinds and ignores output-only fields', () => {
    const out = fromWire({ type: 'TestService', name: 's', kri: 'x', creationTime: 'y', spec: {} });
    expect(out).toEqual({ resource: { type: 'TestService', mesh: 'default', name: 's', labels: {}, spec: {} }, violations: [] });
  });
});

describe('parseDocuments', () => {
  it('splits YAML and JSON documents, skipping empty ones', () => {
    const text = 'type: Mesh\nname: a\n---\n# only a comment\n---\n{"type": "Mesh", "name": "b"}\n';
    expect(parseDocuments(text)).toEqual([
      { index: 0, value: { type: 'Mesh', name: 'a' } },
      { index: 2, value: { type: 'Mesh', name: 'b' } },
    ]);
    expect(parseDocuments('')).toEqual([]);
  });

  it('names the document index and the YAML error', () => {
    const docs = parseDocuments('type: Mesh\nname: ok\n---\ntype: Mesh\nname: [unclosed\n');
    expect(docs[0]).toEqual({ index: 0, value: { type: 'Mesh', name: 'ok' } });
    expect(docs[1]!.index).toBe(1);
    expect(docs[1]!.error).toMatch(/^resource\[1\]: failed to parse resource: .+/);
    expect(docs[1]!.value).toBeUndefined();
  });

  it('reports a bad document in the middle without losing the others', () => {
    const docs = parseDocuments('a: 1\n---\nb: : :\n  - x\n---\nc: 3\n');
    expect(docs.map((d) => [d.index, d.error ? 'error' : d.value])).toEqual([
      [0, { a: 1 }],
      [1, 'error'],
      [2, { c: 3 }],
    ]);
  });
});
