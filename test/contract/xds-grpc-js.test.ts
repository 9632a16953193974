// Contract: Skein's ADS server against a real third-party xDS client (@grpc/grpc-js-xds, proxyless,
// SotW), plus protocol checks (Delta and SotW) with a raw @grpc/grpc-js ADS client.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { adsPackageDefinition, TypeUrl, unpackAny } from '../../src/envoy/protos.js';
import { cachedResource, makeSnapshot, type NamedResource } from '../../src/xds/cache/snapshot.js';
import { SnapshotCache } from '../../src/xds/cache/snapshot-cache.js';
import { startXdsServer, type XdsServer } from '../../src/xds/server/ads-server.js';
import type { ErrorDetail, XdsHooks, XdsLogger } from '../../src/xds/server/hooks.js';
import {
  apiListener,
  clusterLoadAssignment,
  clusterLoadAssignmentResource,
  clusterResource,
  edsCluster,
  httpConnectionManager,
  listenerResource,
  route,
  routeConfiguration,
  routeConfigurationResource,
  virtualHost,
} from '../../src/xds/envoy/index.js';

const quietLogger: XdsLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

/** Records every hook call so tests can wait for them. */
function recordingHooks(extra: Partial<XdsHooks> = {}) {
  const acks: { nodeId: string; typeUrl: string; version: string }[] = [];
  const nacks: { nodeId: string; typeUrl: string; version: string; errorDetail: ErrorDetail }[] = [];
  const events: string[] = [];
  const hooks: XdsHooks = {
    onAck: (nodeId, typeUrl, version) => acks.push({ nodeId, typeUrl, version }),
    onNack: (nodeId, typeUrl, version, errorDetail) => nacks.push({ nodeId, typeUrl, version, errorDetail }),
    onStreamClosed: (node) => events.push(`closed ${node.id}`),
    onNodeDisconnected: (nodeId) => events.push(`disconnected ${nodeId}`),
    ...extra,
  };
  return { hooks, acks, nacks, events };
}

// A plain gRPC backend with one unary method that answers with the backend's name.
const ECHO_METHOD = '/skein.test.Echo/Whoami';
const passThrough = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

async function startBackend(name: string): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server();
  server.addService(
    {
      Whoami: {
        path: ECHO_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: passThrough.serialize,
        requestDeserialize: passThrough.deserialize,
        responseSerialize: passThrough.serialize,
        responseDeserialize: passThrough.deserialize,
      },
    },
    { Whoami: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(name)) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => server.forceShutdown() };
}

function whoami(client: grpc.Client): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(ECHO_METHOD, passThrough.serialize, passThrough.deserialize, Buffer.from('?'), { deadline: Date.now() + 5_000 }, (err, reply) =>
      err ? reject(err) : resolve(reply!.toString()),
    ),
  );
}

/** The proxyless gRPC shape: API listener → RDS → EDS cluster → endpoints. */
function greeterSnapshot(backendPort: number, lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' = 'ROUND_ROBIN') {
  const resources: NamedResource[] = [
    listenerResource(apiListener('greeter', httpConnectionManager({ statPrefix: 'greeter', rdsRouteConfigName: 'greeter-routes' }))),
    routeConfigurationResource(
      routeConfiguration('greeter-routes', [virtualHost('greeter', ['*'], [route({ prefix: '', cluster: 'greeter-cluster' })])]),
    ),
    clusterResource(edsCluster({ name: 'greeter-cluster', lbPolicy })),
    clusterLoadAssignmentResource(
      clusterLoadAssignment('greeter-cluster', [{ zone: 'zone-1', endpoints: [{ address: '127.0.0.1', port: backendPort, health: 'HEALTHY' }] }]),
    ),
  ];
  return makeSnapshot(resources);
}

describe('ADS server with a @grpc/grpc-js-xds client (proxyless, SotW)', () => {
  const NODE_ID = 'default.greeter-client';
  const cache = new SnapshotCache();
  const recorded = recordingHooks();
  const opened: string[] = [];
  let server: XdsServer;
  let backendA: Awaited<ReturnType<typeof startBackend>>;
  let backendB: Awaited<ReturnType<typeof startBackend>>;
  let client: grpc.Client;

  beforeAll(async () => {
    backendA = await startBackend('backend-a');
    backendB = await startBackend('backend-b');
    const hooks: XdsHooks = {
      ...recorded.hooks,
      onStreamOpen: (node) => {
        opened.push(`${node.id} zone=${node.locality.zone} mesh=${String(node.metadata['mesh'])}`);
      },
      // The snapshot is made lazily, when the node first connects.
      onNodeConnected: (node) => {
        cache.setSnapshot(node.id, greeterSnapshot(backendA.port));
      },
    };
    server = await startXdsServer({ port: 0, host: '127.0.0.1', cache, hooks, logger: quietLogger });
    // grpc-js-xds reads the bootstrap when the first xds: channel resolves, so it can be set now.
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${server.port}`, channel_creds: [{ type: 'insecure' }], server_features: [] }],
      node: { id: NODE_ID, locality: { zone: 'zone-1' }, metadata: { mesh: 'default' } },
    });
    registerXds();
    client = new grpc.Client('xds:///greeter', grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    backendA?.close();
    backendB?.close();
  });

  it('serves LDS → RDS → CDS → EDS so a real gRPC call succeeds', async () => {
    expect(await whoami(client)).toBe('backend-a');
    expect(opened).toEqual([`${NODE_ID} zone=zone-1 mesh=default`]);
    const snapshot = cache.getSnapshot(NODE_ID)!;
    for (const typeUrl of [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]) {
      await waitFor(`ACK of ${typeUrl}`, () =>
        recorded.acks.some((a) => a.nodeId === NODE_ID && a.typeUrl === typeUrl && a.version === snapshot.typeVersions.get(typeUrl)),
      );
      expect(server.status.get(NODE_ID)?.types.get(typeUrl)?.ackedVersion).toBe(snapshot.typeVersions.get(typeUrl));
    }
    expect(recorded.nacks).toEqual([]);
  });

  it('pushes a changed snapshot: the next calls reach the new backend', async () => {
    expect(cache.setSnapshot(NODE_ID, greeterSnapshot(backendB.port))).toBe(true);
    await waitFor('calls to reach backend-b', async () => (await whoami(client)) === 'backend-b');
    for (let i = 0; i < 5; i++) expect(await whoami(client)).toBe('backend-b');
  });

  it('does not push an identical snapshot', () => {
    const sentBefore = server.status.get(NODE_ID)!.types.get(TypeUrl.ClusterLoadAssignment)!.sentVersion;
    expect(cache.setSnapshot(NODE_ID, greeterSnapshot(backendB.port))).toBe(false);
    expect(server.status.get(NODE_ID)!.types.get(TypeUrl.ClusterLoadAssignment)!.sentVersion).toBe(sentBefore);
  });

  it('records a NACK, and the client keeps its last good configuration', async () => {
    const goodClusterVersion = cache.getSnapshot(NODE_ID)!.typeVersions.get(TypeUrl.Cluster);
    // grpc-js does not support LEAST_REQUEST, so it rejects this Cluster.
    const rejected = greeterSnapshot(backendB.port, 'LEAST_REQUEST');
    cache.setSnapshot(NODE_ID, rejected);
    const nack = await waitFor('NACK of the cluster', () => recorded.nacks.find((n) => n.typeUrl === TypeUrl.Cluster));
    expect(nack.nodeId).toBe(NODE_ID);
    expect(nack.version).toBe(rejected.typeVersions.get(TypeUrl.Cluster));
    expect(nack.errorDetail.message).toContain('LEAST_REQUEST');
    const status = server.status.get(NODE_ID)!.types.get(TypeUrl.Cluster)!;
    expect(status.ackedVersion).toBe(goodClusterVersion);
    expect(status.lastNack?.version).toBe(rejected.typeVersions.get(TypeUrl.Cluster));
    expect(await whoami(client)).toBe('backend-b');

    // A fixed configuration is accepted again.
    const fixed = greeterSnapshot(backendA.port);
    cache.setSnapshot(NODE_ID, fixed);
    await waitFor('ACK of the fixed cluster', () =>
      recorded.acks.some((a) => a.typeUrl === TypeUrl.Cluster && a.version === fixed.typeVersions.get(TypeUrl.Cluster)),
    );
    await waitFor('calls to reach backend-a again', async () => (await whoami(client)) === 'backend-a');
  });

  it('tells the control plane when the node goes away', async () => {
    client.close();
    await server.close();
    await waitFor('disconnect hooks', () => recorded.events.includes(`disconnected ${NODE_ID}`));
    expect(recorded.events).toContain(`closed ${NODE_ID}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Raw ADS client: drives the protocol by hand, the way Envoy (Delta) or any SotW client would.

interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string; version: string; resource: { type_url: string; value: Buffer } }[];
  removed_resources: string[];
}

interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { type_url: string; value: Buffer }[];
}

interface AdsClient extends grpc.Client {
  DeltaAggregatedResources(metadata?: grpc.Metadata): grpc.ClientDuplexStream<object, DeltaResponse>;
  StreamAggregatedResources(metadata?: grpc.Metadata): grpc.ClientDuplexStream<object, SotwResponse>;
}

function adsClient(port: number): AdsClient {
  const proto = grpc.loadPackageDefinition(adsPackageDefinition()) as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: new (address: string, creds: grpc.ChannelCredentials) => AdsClient } } } };
  };
  return new proto.envoy.service.discovery.v3.AggregatedDiscoveryService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

/** One ADS stream with an inbox of responses and the final status. */
class RawStream<Res> {
  private readonly inbox: Res[] = [];
  status?: grpc.StatusObject;

  constructor(private readonly call: grpc.ClientDuplexStream<object, Res>) {
    call.on('data', (response: Res) => this.inbox.push(response));
    call.on('status', (status: grpc.StatusObject) => (this.status = status));
    call.on('error', () => {});
  }

  send(request: object): void {
    this.call.write(request);
  }

  next(): Promise<Res> {
    return waitFor('an xDS response', () => this.inbox.shift(), 5_000);
  }

  closedWith(): Promise<grpc.StatusObject> {
    return waitFor('the stream to close', () => this.status, 5_000);
  }

  end(): void {
    this.call.end();
  }
}

const names = (response: DeltaResponse) => response.resources.map((r) => r.name).sort();

function meshSnapshot(clusters: Record<string, 'ROUND_ROBIN' | 'RANDOM' | 'LEAST_REQUEST'>, endpointPorts: Record<string, number>, listeners: string[] = []) {
  return makeSnapshot([
    ...Object.entries(clusters).map(([name, lbPolicy]) => clusterResource(edsCluster({ name, lbPolicy }))),
    ...Object.entries(endpointPorts).map(([name, port]) =>
      clusterLoadAssignmentResource(clusterLoadAssignment(name, [{ zone: 'z1', endpoints: [{ address: '127.0.0.1', port }] }])),
    ),
    ...listeners.map((name) => listenerResource(apiListener(name, httpConnectionManager({ statPrefix: name, rdsRouteConfigName: name })))),
  ]);
}

describe('ADS protocol with a raw client', () => {
  const cache = new SnapshotCache();
  const recorded = recordingHooks({
    onStreamOpen: (node, metadata) => {
      if (node.id === 'default.intruder') throw new Error('token is not valid');
      if (node.id === 'default.token-holder' && metadata.get('authorization')[0] !== 'good-token') {
        throw new Error('authentication failed: wrong token');
      }
    },
  });
  let server: XdsServer;
  let client: AdsClient;

  beforeAll(async () => {
    server = await startXdsServer({ port: 0, cache, hooks: recorded.hooks, logger: quietLogger });
    client = adsClient(server.port);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  describe('Delta', () => {
    const node = { id: 'default.delta-1', locality: {} };
    let stream: RawStream<DeltaResponse>;

    const ack = (response: DeltaResponse) => stream.send({ type_url: response.type_url, response_nonce: response.nonce });

    it('answers a wildcard CDS and an explicit EDS subscription, and reports ACKs', async () => {
      const snapshot = meshSnapshot({ a: 'ROUND_ROBIN', b: 'ROUND_ROBIN' }, { a: 1001, b: 1002 });
      cache.setSnapshot(node.id, snapshot);
      stream = new RawStream(client.DeltaAggregatedResources());
      stream.send({ node, type_url: TypeUrl.Cluster });
      const cds = await stream.next();
      expect(cds.type_url).toBe(TypeUrl.Cluster);
      expect(names(cds)).toEqual(['a', 'b']);
      expect(cds.removed_resources).toEqual([]);
      expect(cds.system_version_info).toBe(snapshot.typeVersions.get(TypeUrl.Cluster));
      expect(cds.resources[0].version).toBe(snapshot.resources.get(TypeUrl.Cluster)!.get(cds.resources[0].name)!.version);
      expect(unpackAny(cds.resources[0].resource)).toMatchObject({ name: cds.resources[0].name, type: 'EDS' });
      ack(cds);
      await waitFor('CDS ACK', () => recorded.acks.find((a) => a.nodeId === node.id && a.version === cds.system_version_info));

      stream.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['a'] });
      const eds = await stream.next();
      expect(eds.type_url).toBe(TypeUrl.ClusterLoadAssignment);
      expect(names(eds)).toEqual(['a']);
      ack(eds);
    });

    it('sends only the resources that changed', async () => {
      cache.setSnapshot(node.id, meshSnapshot({ a: 'ROUND_ROBIN', b: 'RANDOM' }, { a: 1001, b: 1002 }));
      const cds = await stream.next();
      expect(cds.type_url).toBe(TypeUrl.Cluster);
      expect(names(cds)).toEqual(['b']);
      expect(unpackAny(cds.resources[0].resource)).toMatchObject({ lb_policy: 'RANDOM' });
      ack(cds);

      // Endpoints of both clusters change; the stream subscribed to 'a' only.
      cache.setSnapshot(node.id, meshSnapshot({ a: 'ROUND_ROBIN', b: 'RANDOM' }, { a: 2001, b: 2002 }));
      const eds = await stream.next();
      expect(eds.type_url).toBe(TypeUrl.ClusterLoadAssignment);
      expect(names(eds)).toEqual(['a']);
      ack(eds);
    });

    it('announces removed resources, clusters before endpoints', async () => {
      cache.setSnapshot(node.id, meshSnapshot({ b: 'RANDOM' }, { b: 2002 }));
      const cds = await stream.next();
      expect(cds.type_url).toBe(TypeUrl.Cluster);
      expect(cds.resources).toEqual([]);
      expect(cds.removed_resources).toEqual(['a']);
      ack(cds);
      const eds = await stream.next();
      expect(eds.type_url).toBe(TypeUrl.ClusterLoadAssignment);
      expect(eds.removed_resources).toEqual(['a']);
      ack(eds);
    });

    it('on NACK reports it, keeps the last good version and does not resend the rejected one', async () => {
      const goodVersion = cache.getSnapshot(node.id)!.typeVersions.get(TypeUrl.Cluster);
      await waitFor('the current clusters to be ACKed', () => server.status.get(node.id)!.types.get(TypeUrl.Cluster)!.ackedVersion === goodVersion);
      stream.send({ type_url: TypeUrl.Listener, resource_names_subscribe: ['*'] });
      const emptyLds = await stream.next();
      expect(emptyLds).toMatchObject({ type_url: TypeUrl.Listener, resources: [], removed_resources: [] });
      ack(emptyLds);

      const rejected = meshSnapshot({ b: 'LEAST_REQUEST' }, { b: 2002 });
      cache.setSnapshot(node.id, rejected);
      const cds = await stream.next();
      expect(names(cds)).toEqual(['b']);
      stream.send({ type_url: TypeUrl.Cluster, response_nonce: cds.nonce, error_detail: { code: 3, message: 'LEAST_REQUEST is not supported' } });
      const nack = await waitFor('onNack', () => recorded.nacks.find((n) => n.nodeId === node.id));
      expect(nack).toMatchObject({
        typeUrl: TypeUrl.Cluster,
        version: rejected.typeVersions.get(TypeUrl.Cluster),
        errorDetail: { code: 3, message: 'LEAST_REQUEST is not supported' },
      });
      const status = server.status.get(node.id)!.types.get(TypeUrl.Cluster)!;
      expect(status.ackedVersion).toBe(goodVersion);
      expect(status.lastNack?.version).toBe(rejected.typeVersions.get(TypeUrl.Cluster));

      // The stream is serial: had the rejected cluster been resent, it would arrive before this listener.
      cache.setSnapshot(node.id, meshSnapshot({ b: 'LEAST_REQUEST' }, { b: 2002 }, ['l1']));
      const lds = await stream.next();
      expect(lds.type_url).toBe(TypeUrl.Listener);
      expect(names(lds)).toEqual(['l1']);
      ack(lds);

      const fixed = meshSnapshot({ b: 'ROUND_ROBIN' }, { b: 2002 }, ['l1']);
      cache.setSnapshot(node.id, fixed);
      const fixedCds = await stream.next();
      expect(names(fixedCds)).toEqual(['b']);
      ack(fixedCds);
      await waitFor('ACK of the fixed version', () =>
        server.status.get(node.id)!.types.get(TypeUrl.Cluster)!.ackedVersion === fixed.typeVersions.get(TypeUrl.Cluster),
      );
      stream.end();
    });

    it('resumes from initial_resource_versions and resends after unsubscribe + subscribe', async () => {
      const resumed = { id: 'default.delta-2', locality: {} };
      const snapshot = meshSnapshot({ b: 'ROUND_ROBIN', c: 'ROUND_ROBIN' }, { b: 3002 });
      cache.setSnapshot(resumed.id, snapshot);
      const bVersion = snapshot.resources.get(TypeUrl.Cluster)!.get('b')!.version;
      const s = new RawStream(client.DeltaAggregatedResources());
      s.send({ node: resumed, type_url: TypeUrl.Cluster, initial_resource_versions: { b: bVersion, gone: 'stale' } });
      const cds = await s.next();
      expect(names(cds)).toEqual(['c']);
      expect(cds.removed_resources).toEqual(['gone']);
      s.send({ type_url: TypeUrl.Cluster, response_nonce: cds.nonce });

      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['b'] });
      const eds = await s.next();
      expect(names(eds)).toEqual(['b']);
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, response_nonce: eds.nonce });
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_unsubscribe: ['b'] });
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['b'] });
      const again = await s.next();
      expect(names(again)).toEqual(['b']);
      s.end();
    });

    it('with snapshots built on the previous one, sends the changed type only and still answers new subscriptions', async () => {
      const n = { id: 'default.delta-3', locality: {} };
      const clusters = ['a', 'b'].map((name) => cachedResource(clusterResource(edsCluster({ name }))));
      const cla = (name: string, port: number) =>
        cachedResource(clusterLoadAssignmentResource(clusterLoadAssignment(name, [{ endpoints: [{ address: '127.0.0.1', port }] }])));
      const v1 = makeSnapshot([...clusters, cla('a', 5001), cla('b', 6001)]);
      cache.setSnapshot(n.id, v1);
      const s = new RawStream<DeltaResponse>(client.DeltaAggregatedResources());
      const ackOf = (r: DeltaResponse) => s.send({ type_url: r.type_url, response_nonce: r.nonce });
      s.send({ node: n, type_url: TypeUrl.Cluster });
      ackOf(await s.next());
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['a'] });
      ackOf(await s.next());

      const v2 = makeSnapshot([...clusters, cla('a', 5002), cla('b', 6001)], v1);
      expect(v2.resources.get(TypeUrl.Cluster)).toBe(v1.resources.get(TypeUrl.Cluster));
      cache.setSnapshot(n.id, v2);
      const eds = await s.next();
      expect(eds.type_url).toBe(TypeUrl.ClusterLoadAssignment);
      expect(names(eds)).toEqual(['a']);
      expect(unpackAny(eds.resources[0]!.resource)).toMatchObject({ endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 5002 } } } }] }] });
      ackOf(eds);

      // The endpoints map is unchanged since the stream last caught up, but the subscription grew.
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['b'] });
      const more = await s.next();
      expect(names(more)).toEqual(['b']);
      s.end();
    });
  });

  describe('SotW', () => {
    it('tracks version and nonce, reports NACKs with the rejected version and ignores stale nonces', async () => {
      const node = { id: 'default.sotw-1', locality: {} };
      const v1 = meshSnapshot({ a: 'ROUND_ROBIN', b: 'ROUND_ROBIN' }, { a: 4001, b: 4002 });
      cache.setSnapshot(node.id, v1);
      const s = new RawStream(client.StreamAggregatedResources());
      s.send({ node, type_url: TypeUrl.Cluster, resource_names: [] });
      const first = await s.next();
      expect(first.version_info).toBe(v1.typeVersions.get(TypeUrl.Cluster));
      expect(first.resources.map((r) => unpackAny(r).name).sort()).toEqual(['a', 'b']);
      s.send({ type_url: TypeUrl.Cluster, version_info: first.version_info, response_nonce: first.nonce });
      await waitFor('ACK', () => recorded.acks.find((a) => a.nodeId === node.id && a.version === first.version_info));

      s.send({ type_url: TypeUrl.ClusterLoadAssignment, resource_names: ['a'] });
      const eds = await s.next();
      expect(eds.resources.map((r) => unpackAny(r).cluster_name)).toEqual(['a']);
      s.send({ type_url: TypeUrl.ClusterLoadAssignment, version_info: eds.version_info, resource_names: ['a'], response_nonce: eds.nonce });

      const v2 = meshSnapshot({ a: 'ROUND_ROBIN', b: 'LEAST_REQUEST' }, { a: 4001, b: 4002 });
      cache.setSnapshot(node.id, v2);
      const second = await s.next();
      expect(second.type_url).toBe(TypeUrl.Cluster);
      expect(second.version_info).toBe(v2.typeVersions.get(TypeUrl.Cluster));
      expect(second.resources).toHaveLength(2);
      s.send({
        type_url: TypeUrl.Cluster,
        version_info: first.version_info,
        response_nonce: second.nonce,
        error_detail: { code: 14, message: 'unsupported lb_policy: LEAST_REQUEST' },
      });
      const nack = await waitFor('onNack', () => recorded.nacks.find((n) => n.nodeId === node.id));
      expect(nack).toMatchObject({ typeUrl: TypeUrl.Cluster, version: second.version_info, errorDetail: { code: 14 } });
      expect(server.status.get(node.id)!.types.get(TypeUrl.Cluster)!.ackedVersion).toBe(first.version_info);

      // A request echoing an old nonce is stale: its resource_names must not change the subscription.
      s.send({ type_url: TypeUrl.Cluster, version_info: first.version_info, resource_names: ['a'], response_nonce: first.nonce });
      const v3 = meshSnapshot({ a: 'ROUND_ROBIN', b: 'RANDOM' }, { a: 4001, b: 4002 });
      cache.setSnapshot(node.id, v3);
      const third = await s.next();
      expect(third.type_url).toBe(TypeUrl.Cluster);
      expect(third.resources.map((r) => unpackAny(r).name).sort()).toEqual(['a', 'b']);
      s.end();
    });
  });

  describe('stream admission', () => {
    it('closes the stream with UNAUTHENTICATED and the reason when onStreamOpen throws', async () => {
      const s = new RawStream(client.DeltaAggregatedResources());
      s.send({ node: { id: 'default.intruder', locality: {} }, type_url: TypeUrl.Cluster });
      const status = await s.closedWith();
      expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(status.details).toBe('token is not valid');
      expect(recorded.events).not.toContain('closed default.intruder');
    });

    it('passes stream metadata to onStreamOpen', async () => {
      const tokenHolder = { id: 'default.token-holder', locality: {} };
      cache.setSnapshot(tokenHolder.id, meshSnapshot({ a: 'ROUND_ROBIN' }, {}));
      const withToken = (token: string) => {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', token);
        const s = new RawStream(client.StreamAggregatedResources(metadata));
        s.send({ node: tokenHolder, type_url: TypeUrl.Cluster });
        return s;
      };
      const wrong = await withToken('bad-token').closedWith();
      expect(wrong).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'authentication failed: wrong token' });
      const good = withToken('good-token');
      expect((await good.next()).resources).toHaveLength(1);
      good.end();
    });

    it('refuses a first request without node and a node id change', async () => {
      const anonymous = new RawStream(client.DeltaAggregatedResources());
      anonymous.send({ type_url: TypeUrl.Cluster });
      expect((await anonymous.closedWith()).code).toBe(grpc.status.INVALID_ARGUMENT);

      const s = new RawStream(client.DeltaAggregatedResources());
      s.send({ node: { id: 'default.one', locality: {} }, type_url: TypeUrl.ClusterLoadAssignment, resource_names_subscribe: ['x'] });
      s.send({ node: { id: 'default.other', locality: {} }, type_url: TypeUrl.Cluster });
      const status = await s.closedWith();
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toBe('Node ID cannot be changed after stream is initialized');
      await waitFor('close hooks', () => recorded.events.includes('disconnected default.one'));
    });
  });
});
