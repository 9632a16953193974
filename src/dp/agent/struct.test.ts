import { describe, expect, it } from 'vitest';
import { adsPackageDefinition } from '../../envoy/protos.js';
import { jsonToStruct } from './struct.js';

describe('jsonToStruct', () => {
  it('survives the gRPC encoding of a DeltaDiscoveryRequest node', () => {
    const method = adsPackageDefinition()['envoy.service.discovery.v3.AggregatedDiscoveryService'] as unknown as Record<
      string,
      { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): { node: { metadata: unknown } } }
    >;
    const rpc = method.DeltaAggregatedResources;
    const metadata = jsonToStruct({ 'dataplane.token': 't', n: 1, ok: true, nested: { list: ['a'] } });
    const decoded = rpc.requestDeserialize(rpc.requestSerialize({ type_url: 'x', node: { id: 'm.n', metadata } })).node.metadata;
    expect(decoded).toMatchObject({
      fields: {
        'dataplane.token': { stringValue: 't' },
        n: { numberValue: 1 },
        ok: { boolValue: true },
        nested: { structValue: { fields: { list: { listValue: { values: [{ stringValue: 'a' }] } } } } },
      },
    });
  });
});
