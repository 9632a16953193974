import path from 'node:path';
import { describe, expect, it } from 'vitest';
import '../kinds.js';
import { golden, policyResource, sidecarDump } from '../common/golden.js';
import { goldenBackend, goldenMesh, goldenWeb } from '../common/golden-fixtures.js';

const testdata = (name: string) => path.join(import.meta.dirname, 'testdata', name);

describe('MeshFaultInjection plugin', () => {
  it('abort, delay and bandwidth faults on the HTTP inbound only', () => {
    const policy = policyResource('MeshFaultInjection', 'backend-faults', {
      targetRef: { kind: 'Mesh' },
      rules: [
        { default: { http: [{ abort: { httpStatus: 503, percentage: 50 } }, { delay: { value: '2s', percentage: '12.5' }, responseBandwidth: { limit: '5Mbps', percentage: 100 } }] } },
        { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/web' } }], default: { http: [{ abort: { httpStatus: 500, percentage: 100 } }] } },
      ],
    });
    const dump = sidecarDump(goldenMesh, [goldenBackend, goldenWeb], goldenBackend, [policy]);
    expect(dump).toEqual(golden(testdata('inbound.golden.json'), dump));
    const text = JSON.stringify(dump);
    expect(text.match(/envoy\.filters\.http\.fault/g)?.length).toBe(2);
    expect(text).not.toContain('"http_status":500');
  });
});
