import { describe, expect, it } from 'vitest';
import { mergeConfs, mergePatch } from './merge.js';

describe('mergePatch (RFC 7396)', () => {
  it.each([
    { name: 'scalar replaced', target: { a: 1 }, patch: { a: 2 }, want: { a: 2 } },
    { name: 'new key added', target: { a: 1 }, patch: { b: 2 }, want: { a: 1, b: 2 } },
    { name: 'null deletes', target: { a: 1, b: 2 }, patch: { a: null }, want: { b: 2 } },
    { name: 'nested objects merged', target: { http: { a: '1s', b: '2s' } }, patch: { http: { b: '3s' } }, want: { http: { a: '1s', b: '3s' } } },
    { name: 'nested null deletes', target: { http: { a: '1s', b: '2s' } }, patch: { http: { a: null } }, want: { http: { b: '2s' } } },
    { name: 'lists replaced', target: { l: [1, 2] }, patch: { l: [3] }, want: { l: [3] } },
    { name: 'object replaces scalar', target: { a: 1 }, patch: { a: { b: 1 } }, want: { a: { b: 1 } } },
    { name: 'scalar replaces object', target: { a: { b: 1 } }, patch: { a: 5 }, want: { a: 5 } },
    { name: 'non-object patch replaces all', target: { a: 1 }, patch: [1], want: [1] },
    { name: 'undefined target', target: undefined, patch: { a: { b: null, c: 1 } }, want: { a: { c: 1 } } },
    { name: 'empty patch keeps target', target: { a: 1 }, patch: {}, want: { a: 1 } },
  ])('$name', ({ target, patch, want }) => {
    expect(mergePatch(target, patch)).toEqual(want);
  });

  it('does not modify its inputs', () => {
    const target = { http: { a: 1 } };
    const patch = { http: { b: [1] } };
    const out = mergePatch(target, patch) as { http: { b: number[] } };
    out.http.b.push(2);
    expect(target).toEqual({ http: { a: 1 } });
    expect(patch).toEqual({ http: { b: [1] } });
  });
});

describe('mergeConfs', () => {
  it.each([
    { name: 'no confs', confs: [], append: [], want: undefined },
    { name: 'one conf', confs: [{ a: 1 }], append: [], want: { a: 1 } },
    { name: 'later wins', confs: [{ a: 1, b: 1 }, { a: 2 }, { a: 3 }], append: [], want: { a: 3, b: 1 } },
    { name: 'undefined confs skipped', confs: [undefined, { a: 1 }, undefined], append: [], want: { a: 1 } },
    {
      name: 'timeouts field by field',
      confs: [{ connectionTimeout: '5s', http: { requestTimeout: '15s', streamIdleTimeout: '30m' } }, { http: { requestTimeout: '1s' } }],
      append: [],
      want: { connectionTimeout: '5s', http: { requestTimeout: '1s', streamIdleTimeout: '30m' } },
    },
    {
      name: 'access log backends replaced',
      confs: [{ backends: [{ type: 'File', file: { path: '/a' } }] }, { backends: [{ type: 'File', file: { path: '/b' } }] }],
      append: [],
      want: { backends: [{ type: 'File', file: { path: '/b' } }] },
    },
    {
      name: 'proxy patch modifications appended',
      confs: [{ appendModifications: [{ cluster: { operation: 'Remove' } }] }, { appendModifications: [{ listener: { operation: 'Remove' } }] }],
      append: [['appendModifications']],
      want: { appendModifications: [{ cluster: { operation: 'Remove' } }, { listener: { operation: 'Remove' } }] },
    },
    {
      name: 'metric profiles appended, other lists replaced',
      confs: [
        { sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }], include: [{ type: 'Exact', match: 'a' }] } }, backends: [{ type: 'Prometheus' }] },
        { sidecar: { profiles: { appendProfiles: [{ name: 'All' }], include: [{ type: 'Exact', match: 'b' }] } } },
      ],
      append: [['sidecar', 'profiles', 'appendProfiles']],
      want: {
        sidecar: { profiles: { appendProfiles: [{ name: 'Basic' }, { name: 'All' }], include: [{ type: 'Exact', match: 'b' }] } },
        backends: [{ type: 'Prometheus' }],
      },
    },
    {
      name: 'append path absent everywhere stays absent',
      confs: [{ a: 1 }, { b: 2 }],
      append: [['appendModifications']],
      want: { a: 1, b: 2 },
    },
    {
      name: 'append list from a conf without other fields',
      confs: [{ appendModifications: [1] }, { other: true }, { appendModifications: [2, 3] }],
      append: [['appendModifications']],
      want: { appendModifications: [1, 2, 3], other: true },
    },
  ])('$name', ({ confs, append, want }) => {
    expect(mergeConfs(confs, append)).toEqual(want);
  });

  it('is deterministic: same input, same output', () => {
    const confs = [{ b: 1, a: { y: 1, x: 2 } }, { a: { z: 3 } }];
    expect(JSON.stringify(mergeConfs(confs))).toBe(JSON.stringify(mergeConfs(structuredClone(confs))));
  });
});
