// HTTP/2 and gRPC through two engines over mTLS, like a mesh: client app --h2c--> client proxy
// outbound (HCM AUTO) --h2 over mTLS, no ALPN configured--> server proxy inbound (mTLS + HCM AUTO +
// HTTP RBAC) --h2c--> a real @grpc/grpc-js server.
import http2 from 'node:http2';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { packAny } from '../../envoy/protos.js';
import { Engine } from './engine.js';
import { T, decoded, downstreamMtls, get, hcm, httpListener, routeConfig, socketAddress, startHttpServer, staticCluster, testCert, type TestServer } from './fixtures.js';
import type { Obj } from './proto-values.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

function track<T extends TestServer | Engine>(thing: T): T {
  cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
  return thing;
}

// A gRPC service without .proto files: messages are JSON.
const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')) as unknown,
};

interface EchoRequest {
  text: string;
  count?: number;
  fail?: boolean;
}

const ECHO_SERVICE = {
  unary: {
    path: '/skein.test.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
  stream: {
    path: '/skein.test.Echo/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} satisfies grpc.ServiceDefinition;

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
type EchoClientInstance = InstanceType<typeof EchoClient>;

/** A gRPC server (h2c) echoing requests, its metadata and the peer's x-forwarded-proto. */
async function startGrpcServer(): Promise<TestServer> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    unary(call: grpc.ServerUnaryCall<EchoRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const request = call.request;
      const md = new grpc.Metadata();
      md.set('x-echo', String(call.metadata.get('x-client')[0] ?? ''));
      call.sendMetadata(md);
      if (request.fail) {
        const trailer = new grpc.Metadata();
        trailer.set('x-reason', 'asked to fail');
        callback({ code: grpc.status.FAILED_PRECONDITION, details: `no ${request.text}`, metadata: trailer });
        return;
      }
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', 'done');
      callback(null, { echo: request.text }, trailer);
    },
    stream(call: grpc.ServerWritableStream<EchoRequest, unknown>) {
      const { text, count = 3, fail } = call.request;
      let i = 0;
      const next = (): void => {
        if (i < count) {
          call.write({ echo: text, i: i++ });
          setTimeout(next, 5);
          return;
        }
        if (fail) call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'stream failed' });
        else call.end();
      };
      next();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

interface UnaryResult {
  error?: grpc.ServiceError;
  response?: unknown;
  metadata?: grpc.Metadata;
  status?: grpc.StatusObject;
}

function unaryCall(client: EchoClientInstance, request: EchoRequest): Promise<UnaryResult> {
  return new Promise((resolve) => {
    const result: UnaryResult = {};
    const md = new grpc.Metadata();
    md.set('x-client', request.text);
    const call = client.makeUnaryRequest('/skein.test.Echo/Unary', json.serialize, json.deserialize, request, md, { deadline: Date.now() + 10_000 }, (err, response) => {
      result.error = err ?? undefined;
      result.response = response;
    });
    call.on('metadata', (m: grpc.Metadata) => (result.metadata = m));
    call.on('status', (s: grpc.StatusObject) => {
      result.status = s;
      // The callback runs before 'status'.
      setImmediate(() => resolve(result));
    });
  });
}

function streamCall(client: EchoClientInstance, request: EchoRequest): Promise<{ messages: unknown[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const messages: unknown[] = [];
    const call = client.makeServerStreamRequest('/skein.test.Echo/Stream', json.serialize, json.deserialize, request, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    call.on('data', (m: unknown) => messages.push(m));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ messages, status }));
  });
}

const HTTP2 = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(T.httpProtocolOptions, { explicit_http_config: { http2_protocol_options: {} } }),
  },
};

/** A mesh outbound cluster: mTLS with certificate `b`, no ALPN unless given (like the Skein CP). */
function mtlsCluster(name: string, port: number, http2: boolean, alpn?: string[]): Obj {
  const { cert, key } = testCert('b');
  return staticCluster(name, [port], {
    ...(http2 ? HTTP2 : {}),
    transport_socket: {
      name: 'tls',
      typed_config: packAny(T.upstreamTls, {
        sni: 'a.test',
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: key } }],
          validation_context: {
            trusted_ca: { inline_string: testCert('ca').cert },
            match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://default/a' } }],
          },
          ...(alpn ? { alpn_protocols: alpn } : {}),
        },
      }),
    },
  });
}

const router = (): Obj => ({ name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) });

/** The server proxy: one mTLS inbound (AUTO codec, HTTP RBAC allowing only spiffe://default/b). */
async function startServerProxy(grpcPort: number, webPort: number, alpn?: string[], hcmExtra: Obj = {}): Promise<Engine> {
  const engine = track(new Engine());
  const onlyB = {
    action: 'ALLOW',
    policies: { MeshTrafficPermission: { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: 'spiffe://default/b' } } }] } },
  };
  await engine.apply({
    listeners: [decoded('listeners', {
      name: 'inbound',
      address: socketAddress(0),
      filter_chains: [{
        filters: [hcm('inbound', {
          route_config: routeConfig('inbound', [
            { match: { prefix: '/skein.test.Echo/' }, route: { cluster: 'local-grpc' } },
            { match: { prefix: '/' }, route: { cluster: 'local-web' } },
          ]),
        }, { http_filters: [{ name: 'envoy.filters.http.rbac', typed_config: packAny(T.httpRbac, { rules: onlyB }) }, router()], ...hcmExtra })],
        transport_socket: downstreamMtls({ alpn }),
      }],
    })],
    clusters: [staticCluster('local-grpc', [grpcPort], HTTP2), staticCluster('local-web', [webPort])],
  });
  return engine;
}

/** The client proxy: h2c/HTTP/1.1 outbound listeners to the server proxy over mTLS. */
async function startClientProxy(inboundPort: number, alpn?: string[]): Promise<Engine> {
  const engine = track(new Engine());
  const outbound = (name: string, cluster: string): Obj =>
    httpListener(name, { route_config: routeConfig(name, [{ match: { prefix: '/' }, route: { cluster } }]) });
  await engine.apply({
    listeners: [outbound('grpc', 'backend-grpc'), outbound('web', 'backend-web')],
    clusters: [mtlsCluster('backend-grpc', inboundPort, true, alpn), mtlsCluster('backend-web', inboundPort, false)],
  });
  return engine;
}

function grpcClient(port: number): EchoClientInstance {
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  return client;
}

function h2cRequest(port: number, path: string): Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let body = '';
    let headers: http2.IncomingHttpHeaders = {};
    stream.on('response', (h) => (headers = h));
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(headers[':status']), body, headers });
    });
    stream.on('error', reject);
  });
}

function stat(engine: Engine, name: string): number | undefined {
  return engine.stats.all().find((s) => s.name === name)?.counter.value;
}

describe('HTTP/2 and gRPC between two engines over mTLS', () => {
  async function mesh(alpn?: { client?: string[]; server?: string[] }, hcmExtra: Obj = {}) {
    const grpcServer = track(await startGrpcServer());
    const web = track(await startHttpServer('web'));
    const server = await startServerProxy(grpcServer.port, web.port, alpn?.server, hcmExtra);
    const client = await startClientProxy(server.listenerPort('inbound') ?? 0, alpn?.client);
    return { server, client, grpcPort: client.listenerPort('grpc') ?? 0, webPort: client.listenerPort('web') ?? 0 };
  }

  it('carries gRPC unary and server-streaming calls, metadata, trailers and statuses', async () => {
    const { server, client, grpcPort } = await mesh();
    const echo = grpcClient(grpcPort);

    const ok = await unaryCall(echo, { text: 'hello' });
    expect(ok.error).toBeUndefined();
    expect(ok.response).toEqual({ echo: 'hello' });
    expect(ok.metadata?.get('x-echo')).toEqual(['hello']);
    expect(ok.status?.code).toBe(grpc.status.OK);
    expect(ok.status?.metadata.get('x-trailer')).toEqual(['done']);

    const failed = await unaryCall(echo, { text: 'luck', fail: true });
    expect(failed.error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(failed.status?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(failed.status?.details).toBe('no luck');
    expect(failed.status?.metadata.get('x-reason')).toEqual(['asked to fail']);

    const streamed = await streamCall(echo, { text: 'tick', count: 4 });
    expect(streamed.status.code).toBe(grpc.status.OK);
    expect(streamed.messages).toEqual([0, 1, 2, 3].map((i) => ({ echo: 'tick', i })));

    const streamFailed = await streamCall(echo, { text: 'tock', count: 2, fail: true });
    expect(streamFailed.messages).toEqual([{ echo: 'tock', i: 0 }, { echo: 'tock', i: 1 }]);
    expect(streamFailed.status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(streamFailed.status.details).toBe('stream failed');

    // An unknown method: the gRPC server answers trailers-only, which must stay trailers-only.
    const unknown = await new Promise<grpc.StatusObject>((resolve) => {
      const call = echo.makeUnaryRequest('/skein.test.Echo/Nope', json.serialize, json.deserialize, {}, () => {});
      call.on('status', resolve);
    });
    expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);

    // All of it over one HTTP/2 connection between the proxies, through the HTTP RBAC filter.
    expect(stat(client, 'cluster.backend-grpc.upstream_cx_total')).toBe(1);
    expect(stat(server, 'http.inbound.rbac.allowed')).toBe(5);
    expect(stat(server, 'cluster.local-grpc.upstream_rq_total')).toBe(5);
  });

  it('forwards plain HTTP/2 and HTTP/1.1 requests to an HTTP/2 cluster over mTLS', async () => {
    const { grpcPort } = await mesh();
    // The gRPC server answers non-gRPC requests itself (415), over HTTP/2 all the way.
    const h2 = await h2cRequest(grpcPort, '/skein.test.Echo/Unary');
    expect(h2.status).toBe(415);
    const h1 = await get(grpcPort, '/skein.test.Echo/Unary');
    expect(h1.status).toBe(415);
  });

  it('keeps HTTP/1.1 working through the same mTLS inbound (AUTO codec)', async () => {
    const { server, webPort } = await mesh();
    const reply = await get(webPort, '/hello?x=1');
    expect(reply).toMatchObject({ status: 200, body: 'web /hello?x=1' });
    expect(reply.headers['x-server']).toBe('web');
    expect(stat(server, 'http.inbound.rbac.allowed')).toBe(1);
  });

  it('negotiates h2 by ALPN when both sides configure it', async () => {
    const { grpcPort, webPort } = await mesh({ client: ['h2'], server: ['h2', 'http/1.1'] });
    const echo = grpcClient(grpcPort);
    expect((await unaryCall(echo, { text: 'alpn' })).response).toEqual({ echo: 'alpn' });
    expect((await streamCall(echo, { text: 's', count: 2 })).messages).toHaveLength(2);
    // An HTTP/1.1 cluster without ALPN still gets HTTP/1.1 from a listener that offers h2.
    expect(await get(webPort, '/h1')).toMatchObject({ status: 200, body: 'web /h1' });
  });

  it('serves h2 over TLS on an inbound with codec_type HTTP2', async () => {
    const { grpcPort } = await mesh(undefined, { codec_type: 'HTTP2' });
    const echo = grpcClient(grpcPort);
    expect((await unaryCall(echo, { text: 'h2 only' })).response).toEqual({ echo: 'h2 only' });
    const failed = await unaryCall(echo, { text: 'x', fail: true });
    expect(failed.status?.code).toBe(grpc.status.FAILED_PRECONDITION);
  });

  it('serves h2 over TLS to a client that negotiated it by ALPN', async () => {
    const grpcServer = track(await startGrpcServer());
    const web = track(await startHttpServer('web'));
    const server = await startServerProxy(grpcServer.port, web.port, ['h2', 'http/1.1']);
    const port = server.listenerPort('inbound') ?? 0;
    const { cert, key } = testCert('b');
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCert('ca').cert, cert, key, servername: 'a.test' });
    cleanups.push(() => session.close());
    const reply = await new Promise<{ status: number; body: string; alpn: string | false | undefined }>((resolve, reject) => {
      session.on('error', reject);
      const stream = session.request({ ':path': '/via-alpn' });
      let status = 0;
      let body = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (body += d));
      stream.on('end', () => resolve({ status, body, alpn: (session.socket as tls.TLSSocket).alpnProtocol }));
      stream.on('error', reject);
    });
    expect(reply).toEqual({ status: 200, body: 'web /via-alpn', alpn: 'h2' });
  });
});
