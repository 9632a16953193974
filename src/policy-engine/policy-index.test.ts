import { describe, expect, it } from 'vitest';
import type { Labels, Resource } from '../api/resource.js';
import { matchPolicies } from './rules.js';
import { proxyViewOf } from './proxy-view.js';

function policy(name: string, spec: Record<string, unknown>): Resource {
  return { type: 'MeshTimeout', mesh: 'default', name, labels: {}, spec, version: 1, creationTime: '', modificationTime: '' };
}

function dataplane(name: string, address: string, service: string, labels: Labels): Resource {
  const spec = { networking: { address, inbound: [{ port: 8080, tags: { 'kuma.io/service': service, team: labels['team'] ?? '' } }], outbound: [{ port: 10001, tags: { 'kuma.io/service': 'db' } }] } };
  return { type: 'Dataplane', mesh: 'default', name, labels, spec, version: 1, creationTime: '', modificationTime: '' };
}

const conf = (connectionTimeout: string) => ({ rules: [{ default: { connectionTimeout } }], to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout } }] });

/** A fresh copy of the array each time: what the engine answers without anything remembered. */
function uncached(view: ReturnType<typeof proxyViewOf>, policies: Resource[]) {
  return matchPolicies(view, [...policies], 'MeshTimeout');
}

describe('remembered answers (policy-index)', () => {
  const policies = [
    policy('mesh', { targetRef: { kind: 'Mesh' }, ...conf('1s') }),
    policy('team-a', { targetRef: { kind: 'MeshSubset', tags: { team: 'a' } }, ...conf('2s') }),
    policy('web-v2', { targetRef: { kind: 'Dataplane', labels: { app: 'web', version: 'v2' } }, ...conf('3s') }),
    policy('one', { targetRef: { kind: 'Dataplane', name: 'web-3' }, ...conf('4s') }),
  ];
  const web1 = dataplane('web-1', '10.0.0.1', 'web', { app: 'web', version: 'v1', team: 'a', pod: 'x1' });
  const web2 = dataplane('web-2', '10.0.0.2', 'web', { app: 'web', version: 'v1', team: 'a', pod: 'x2' });
  const web3 = dataplane('web-3', '10.0.0.3', 'web', { app: 'web', version: 'v1', team: 'a', pod: 'x3' });
  const web4 = dataplane('web-4', '10.0.0.4', 'web', { app: 'web', version: 'v2', team: 'b', pod: 'x4' });

  it('proxies that look alike share an answer, with their own inbounds; others get their own', () => {
    const a = matchPolicies(proxyViewOf(web1), policies, 'MeshTimeout');
    const b = matchPolicies(proxyViewOf(web2), policies, 'MeshTimeout');
    expect(b.inbounds[0]!.conf).toBe(a.inbounds[0]!.conf); // shared, not recomputed
    expect(b.inbounds[0]!.inbound.address).toBe('10.0.0.2');
    expect(b.policies).toEqual(['mesh', 'team-a']);
    // Named by a Dataplane targetRef, or selected by other labels: a different answer.
    expect(matchPolicies(proxyViewOf(web3), policies, 'MeshTimeout').policies).toEqual(['mesh', 'team-a', 'one']);
    expect(matchPolicies(proxyViewOf(web4), policies, 'MeshTimeout').policies).toEqual(['mesh', 'web-v2']);
  });

  it('answers exactly as without the memo, in any order of asking', () => {
    const views = [web4, web3, web1, web2, web3, web4].map((dp) => proxyViewOf(dp));
    for (const view of views) expect(JSON.parse(JSON.stringify(matchPolicies(view, policies, 'MeshTimeout')))).toEqual(JSON.parse(JSON.stringify(uncached(view, policies))));
  });

  it('an array whose elements changed is indexed again', () => {
    const list = [policies[0]!];
    expect(matchPolicies(proxyViewOf(web1), list, 'MeshTimeout').inbounds[0]!.conf).toEqual({ connectionTimeout: '1s' });
    list.push(policies[1]!);
    expect(matchPolicies(proxyViewOf(web1), list, 'MeshTimeout').inbounds[0]!.conf).toEqual({ connectionTimeout: '2s' });
    list[1] = policy('team-a', { targetRef: { kind: 'MeshSubset', tags: { team: 'a' } }, ...conf('7s') });
    expect(matchPolicies(proxyViewOf(web1), list, 'MeshTimeout').inbounds[0]!.conf).toEqual({ connectionTimeout: '7s' });
  });
});
