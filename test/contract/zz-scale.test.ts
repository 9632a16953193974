import * as grpc from '@grpc/grpc-js';
import { it, expect } from 'vitest';
import { adsPackageDefinition, TypeUrl } from '../../src/envoy/protos.js';
import { makeSnapshot } from '../../src/xds/cache/snapshot.js';
import { SnapshotCache } from '../../src/xds/cache/snapshot-cache.js';
import { startXdsServer } from '../../src/xds/server/ads-server.js';
import { clusterResource, edsCluster } from '../../src/xds/envoy/index.js';
const q = { debug() {}, info() {}, warn() {}, error() {} };
it('10k streams', async () => {
  const cache = new SnapshotCache();
  const snap = makeSnapshot([clusterResource(edsCluster({ name: 'a' })), clusterResource(edsCluster({ name: 'b' }))]);
  const server = await startXdsServer({ port: 0, cache, logger: q, hooks: { onNodeConnected: (n) => { cache.setSnapshot(n.id, snap); } } });
  const proto = grpc.loadPackageDefinition(adsPackageDefinition()) as any;
  const Ads = proto.envoy.service.discovery.v3.AggregatedDiscoveryService;
  const clients = Array.from({ length: 20 }, (_, i) => new Ads(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { 'grpc.dummy': i }));
  const N = 10000;
  let got = 0;
  const t0 = Date.now();
  const calls: any[] = [];
  for (let i = 0; i < N; i++) {
    const call = clients[i % clients.length].DeltaAggregatedResources();
    call.on('data', (r: any) => { got++; call.write({ type_url: r.type_url, response_nonce: r.nonce }); });
    call.on('error', () => {});
    call.write({ node: { id: `n${i}` }, type_url: TypeUrl.Cluster });
    calls.push(call);
  }
  while (got < N && Date.now() - t0 < 120000) await new Promise((r) => setTimeout(r, 100));
  console.log('first responses', got, 'ms', Date.now() - t0, 'rss MB', Math.round(process.memoryUsage().rss / 1e6));
  expect(got).toBe(N);
  const snap2 = makeSnapshot([clusterResource(edsCluster({ name: 'a', lbPolicy: 'RANDOM' })), clusterResource(edsCluster({ name: 'b' }))]);
  got = 0; const t1 = Date.now();
  for (let i = 0; i < N; i++) cache.setSnapshot(`n${i}`, snap2);
  while (got < N && Date.now() - t1 < 120000) await new Promise((r) => setTimeout(r, 100));
  console.log('pushes', got, 'ms', Date.now() - t1, 'rss MB', Math.round(process.memoryUsage().rss / 1e6)); expect(got).toBe(N);
  for (const c of calls) c.cancel();
  await server.close();
  clients.forEach((c) => c.close());
}, 300000);
