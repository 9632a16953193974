// Builders for Envoy resources and small real servers, shared by the data plane tests. Resources go
// through packAny/unpackAny so the engine sees exactly what the xDS agent hands it.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packAny, unpackAny } from '../../envoy/protos.js';
import { TYPE_URL_BY_KIND, type ResourceKind } from './resources.js';
import type { Obj } from './proto-values.js';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');

export const T = {
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  networkRbac: 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
  httpRbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  httpLocalRateLimit: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  networkLocalRateLimit: 'type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  fileAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog',
} as const;

/** An http_connection_manager whose HTTP filters are `filters` then the router. */
export function httpListenerWithFilters(name: string, routeConfiguration: Obj, filters: { name: string; type: string; config: Obj }[], hcmExtra: Obj = {}): Obj {
  return httpListener(name, { route_config: routeConfiguration }, 0, {
    http_filters: [
      ...filters.map((f) => ({ name: f.name, typed_config: packAny(f.type, f.config) })),
      { name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) },
    ],
    ...hcmExtra,
  });
}

/** A snapshot of the engine's stats by name. */
export function statValues(entries: { name: string; counter: { value: number } }[]): Map<string, number> {
  return new Map(entries.map((e) => [e.name, e.counter.value]));
}

export function testCert(name: 'a' | 'b' | 'ca'): { cert: string; key: string } {
  const cert = fs.readFileSync(path.join(TESTDATA, `${name}.pem`), 'utf8');
  const key = name === 'ca' ? '' : fs.readFileSync(path.join(TESTDATA, `${name}.key`), 'utf8');
  return { cert, key };
}

/** Encodes and decodes a resource as the agent would receive it. */
export function decoded(kind: ResourceKind, resource: Obj): Obj {
  return unpackAny(packAny(TYPE_URL_BY_KIND[kind], resource));
}

export function socketAddress(port: number, address = '127.0.0.1'): Obj {
  return { socket_address: { address, port_value: port } };
}

export function tcpProxyListener(name: string, cluster: string, port = 0): Obj {
  return decoded('listeners', {
    name,
    address: socketAddress(port),
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: packAny(T.tcpProxy, { stat_prefix: name, cluster }) }] }],
  });
}

export function hcm(statPrefix: string, routes: { route_config?: Obj; rds?: string }, extra: Obj = {}): Obj {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: packAny(T.hcm, {
      stat_prefix: statPrefix,
      ...(routes.route_config ? { route_config: routes.route_config } : {}),
      ...(routes.rds ? { rds: { route_config_name: routes.rds, config_source: { ads: {}, resource_api_version: 'V3' } } } : {}),
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny(T.router, {}) }],
      ...extra,
    }),
  };
}

export function httpListener(name: string, routes: { route_config?: Obj; rds?: string }, port = 0, hcmExtra: Obj = {}): Obj {
  return decoded('listeners', { name, address: socketAddress(port), filter_chains: [{ filters: [hcm(name, routes, hcmExtra)] }] });
}

export function routeConfig(name: string, routes: Obj[], domains = ['*']): Obj {
  return { name, virtual_hosts: [{ name: `${name}-vh`, domains, routes }] };
}

export function staticCluster(name: string, ports: number[], extra: Obj = {}): Obj {
  return decoded('clusters', {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1 },
    load_assignment: loadAssignment(name, ports),
    ...extra,
  });
}

export function edsCluster(name: string, extra: Obj = {}): Obj {
  return decoded('clusters', {
    name,
    type: 'EDS',
    connect_timeout: { seconds: 1 },
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    ...extra,
  });
}

export function loadAssignment(name: string, ports: number[], health: string[] = []): Obj {
  return {
    cluster_name: name,
    endpoints: [{
      lb_endpoints: ports.map((port, i) => ({
        endpoint: { address: socketAddress(port) },
        ...(health[i] ? { health_status: health[i] } : {}),
      })),
    }],
  };
}

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

/** Stops what tests start (engines, servers), last first: `track(x)` each, then `afterEach(stopAll)`. */
export function cleanupTracker(): { track: <X extends { stop(): Promise<void> } | { close(): Promise<void> }>(thing: X) => X; stopAll: () => Promise<void> } {
  const cleanups: (() => Promise<void>)[] = [];
  return {
    track: (thing) => {
      cleanups.push(() => ('stop' in thing ? thing.stop() : thing.close()));
      return thing;
    },
    stopAll: async () => {
      while (cleanups.length) await cleanups.pop()?.();
    },
  };
}

/** An HTTP server answering `<name>` plus the request headers it saw (as JSON in x-seen-headers). */
export async function startHttpServer(name: string, delayMs = 0): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const reply = (): void => {
      res.setHeader('x-server', name);
      res.setHeader('x-seen-headers', JSON.stringify(req.headers));
      res.end(`${name} ${req.url ?? ''}`);
    };
    req.resume();
    req.on('end', () => (delayMs > 0 ? setTimeout(reply, delayMs) : reply()));
  });
  return listen(server);
}

/** A TCP server that answers every chunk with `<name>:<chunk>`. */
export async function startTcpEcho(name: string): Promise<TestServer> {
  return listen(net.createServer((socket) => socket.on('data', (d) => socket.write(`${name}:${String(d)}`))));
}

export async function listen(server: net.Server): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        (server as http.Server).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

export interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Retries `check` until it stops throwing (or the time is up). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** Terminates TLS with certificate `a`; by default requires a client certificate from the test CA. */
export function downstreamMtls(opts: { requireClientCertificate?: boolean; validation?: Obj; trustedCa?: string; alpn?: string[] } = {}): Obj {
  const { cert, key } = testCert('a');
  return {
    name: 'tls',
    typed_config: packAny(T.downstreamTls, {
      require_client_certificate: { value: opts.requireClientCertificate ?? true },
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: key } }],
        validation_context: { trusted_ca: { inline_string: opts.trustedCa ?? testCert('ca').cert }, ...(opts.validation ?? {}) },
        ...(opts.alpn ? { alpn_protocols: opts.alpn } : {}),
      },
    }),
  };
}
