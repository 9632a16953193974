import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';
import { defaultTimeoutPolicy } from './api.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);
const dataplanes = [goldenBackend, goldenWeb];
const dflt = () => {
  const p = defaultTimeoutPolicy('default');
  return policyResource(p.type, p.name, p.spec as unknown as Record<string, unknown>);
};

describe('MeshTimeout plugin', () => {
  it('the default policy: inbound and outbound timeouts of a sidecar', () => {
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt()]);
    expect(dump).toEqual(golden(testdata('default.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text).toContain('"timeout":{"seconds":"15"}');
    expect(text).toContain('"stream_idle_timeout":{"seconds":"1800"}');
  });

  it('a policy naming one destination overrides the mesh-wide one for it only', () => {
    const backendTimeout = policyResource('MeshTimeout', 'backend-timeout', {
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'MeshService', name: 'backend-tcp' }, default: { connectionTimeout: '2s', idleTimeout: '30s' } }],
      from: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '3s' } } }],
    });
    const dump = sidecarDump(goldenMesh, dataplanes, goldenWeb, [dflt(), backendTimeout]);
    expect(dump).toEqual(golden(testdata('override.golden.json'), dump));
  });

  it('without any MeshTimeout an outbound route keeps the 15s default and inbounds get none', () => {
    const dump = JSON.stringify(sidecarDump(goldenMesh, dataplanes, goldenWeb, []));
    expect(dump.match(/"timeout":\{"seconds":"15"\}/g)?.length).toBe(1);
    expect(dump).not.toContain('idle_timeout');
  });
});
