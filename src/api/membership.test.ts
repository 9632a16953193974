import { describe, expect, it } from 'vitest';
import { formatTags, membershipViolations, selectorMatches } from './membership.js';
import type { MeshSpec } from './kinds/mesh.js';
import type { DataplaneSpec } from './kinds/dataplane-spec.js';

describe('selectorMatches', () => {
  it.each<[string, Record<string, string>, Record<string, string>, boolean]>([
    ['same key and value', { team: 'a' }, { team: 'a', 'kuma.io/service': 'web' }, true],
    ['other value', { team: 'a' }, { team: 'b' }, false],
    ['key missing', { team: 'a' }, { 'kuma.io/service': 'web' }, false],
    ['every pair must match', { team: 'a', env: 'prod' }, { team: 'a', env: 'dev' }, false],
    ['every pair present', { team: 'a', env: 'prod' }, { team: 'a', env: 'prod', x: 'y' }, true],
    ['* with the key present', { team: '*' }, { team: 'anything' }, true],
    ['* with the key missing', { team: '*' }, { env: 'prod' }, false],
    ['* with an empty value', { team: '*' }, { team: '' }, false],
    ['* is not a wildcard on the tag side', { team: 'a' }, { team: '*' }, false],
    ['* mixed with an exact value', { team: '*', env: 'prod' }, { team: 'x', env: 'prod' }, true],
    ['* mixed with a wrong value', { team: '*', env: 'prod' }, { team: 'x', env: 'dev' }, false],
    ['values are case-sensitive', { team: 'A' }, { team: 'a' }, false],
  ])('%s', (_, selector, tags, expected) => {
    expect(selectorMatches(selector, tags)).toBe(expected);
  });
});

describe('membershipViolations', () => {
  const mesh = (requirements: Record<string, string>[], restrictions: Record<string, string>[] = []): MeshSpec => ({
    constraints: { dataplaneProxy: { requirements: requirements.map((tags) => ({ tags })), restrictions: restrictions.map((tags) => ({ tags })) } },
  });
  const dp = (...inbounds: Record<string, string>[]): DataplaneSpec => ({
    networking: { address: '10.0.0.1', inbound: inbounds.map((tags, i) => ({ port: 8080 + i, tags })) },
  });

  it('prints tag sets sorted by key', () => {
    expect(formatTags({ z: '1', a: '2', 'kuma.io/service': 'web' })).toBe('a=2 kuma.io/service=web z=1');
  });

  it('accepts everything when the mesh has no constraints', () => {
    expect(membershipViolations('m', {}, dp({ 'kuma.io/service': 'web' }))).toEqual([]);
    expect(membershipViolations('m', { constraints: { dataplaneProxy: {} } }, dp({ 'kuma.io/service': 'web' }))).toEqual([]);
  });

  it('needs every inbound to fulfil at least one requirement', () => {
    const m = mesh([{ team: 'a' }, { team: 'b', env: '*' }]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web', team: 'a' }, { 'kuma.io/service': 'api', team: 'b', env: 'x' }))).toEqual([]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web', team: 'a' }, { 'kuma.io/service': 'api', team: 'b' }))).toEqual([
      {
        field: 'networking.inbound[1].tags',
        reason: 'dataplane cannot be a member of mesh "m" because its tags "kuma.io/service=api team=b" does not fulfill any requirements defined on the Mesh',
      },
    ]);
  });

  it('refuses a tag set matching any restriction, naming the restriction', () => {
    const m = mesh([], [{ env: 'legacy' }, { team: '*', 'kuma.io/service': 'db' }]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web', env: 'prod' }))).toEqual([]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web', env: 'prod' }, { 'kuma.io/service': 'db', team: 'x' }))).toEqual([
      {
        field: 'networking.inbound[1].tags',
        reason: 'dataplane cannot be a member of mesh "m" because its tags "kuma.io/service=db team=x" matches restricted tags "kuma.io/service=db team=*" defined on the Mesh',
      },
    ]);
  });

  it('checks requirements before restrictions, once per tag set', () => {
    const m = mesh([{ team: '*' }], [{ env: 'legacy' }]);
    const v = membershipViolations('m', m, dp({ 'kuma.io/service': 'a', env: 'legacy' }, { 'kuma.io/service': 'b', team: 'x', env: 'legacy' }));
    expect(v.map((x) => [x.field, x.reason.includes('does not fulfill') ? 'requirement' : 'restriction'])).toEqual([
      ['networking.inbound[0].tags', 'requirement'],
      ['networking.inbound[1].tags', 'restriction'],
    ]);
  });

  it('checks the gateway tags as a tag set', () => {
    const m = mesh([{ team: 'edge' }]);
    const gateway = (tags: Record<string, string>): DataplaneSpec => ({ networking: { address: '10.0.0.1', gateway: { tags } } });
    expect(membershipViolations('m', m, gateway({ 'kuma.io/service': 'gw', team: 'edge' }))).toEqual([]);
    expect(membershipViolations('m', m, gateway({ 'kuma.io/service': 'gw' }))[0]?.field).toBe('networking.gateway.tags');
  });

  it('has nothing to check on a Dataplane without inbounds or gateway (zone proxy)', () => {
    expect(membershipViolations('m', mesh([{ team: 'a' }]), { networking: { address: '10.0.0.1', listeners: [{ type: 'ZoneIngress', port: 10001 }] } })).toEqual([]);
  });

  it("treats the CP's zone tag as present unless the inbound sets its own", () => {
    const m = mesh([{ 'kuma.io/zone': 'east' }]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web' }), { 'kuma.io/zone': 'east' })).toEqual([]);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web' }))).toHaveLength(1);
    expect(membershipViolations('m', m, dp({ 'kuma.io/service': 'web', 'kuma.io/zone': 'west' }), { 'kuma.io/zone': 'east' })[0]?.reason).toContain(
      '"kuma.io/service=web kuma.io/zone=west"',
    );
  });
});
