// POST <cp>/bootstrap (Kuma's request shape) and read where the xDS server is and which node id to use.
import http from 'node:http';
import https from 'node:https';
import YAML from 'yaml';

export const PROXY_TYPES = ['dataplane', 'ingress', 'egress'] as const;
export type ProxyType = (typeof PROXY_TYPES)[number];

export interface BootstrapRequestBody {
  mesh: string;
  name: string;
  /** `dataplane` (sidecar or mesh-scoped zone proxy), or a legacy global-scoped `ingress` / `egress`. */
  proxyType: ProxyType;
  dataplaneToken: string;
  dataplaneResource: string;
  version: { kumaDp: { version: string }; envoy: { version: string; kumaDpCompatible: boolean } };
  workdir: string;
  operatingSystem: string;
  features: string[];
}

export interface BootstrapResult {
  nodeId: string;
  xds: { host: string; port: number; tls: boolean };
  /** Node metadata the control plane put in the Envoy bootstrap (forwarded on the xDS stream). */
  nodeMetadata: Record<string, unknown>;
}

/** A definitive answer from the control plane (not a network problem). */
export class BootstrapHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`bootstrap request failed: HTTP ${status}${body ? `: ${body}` : ''}`);
    this.name = 'BootstrapHttpError';
  }

  /** Kuma retries a 404 with an empty body (Dataplane not created yet) and a missing mesh. */
  get retryable(): boolean {
    return (this.status === 404 && this.body.trim() === '') || (this.status === 422 && /mesh ".*" does not exist/.test(this.body)) || this.status >= 500;
  }
}

export async function requestBootstrap(cpAddress: string, body: BootstrapRequestBody, ca?: Buffer): Promise<BootstrapResult> {
  const url = new URL('/bootstrap', cpAddress);
  const { status, text } = await postJson(url, body, ca);
  if (status !== 200) throw new BootstrapHttpError(status, text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`bootstrap response from ${url.href} is not JSON: ${text.slice(0, 200)}`);
  }
  return parseBootstrapResponse(json, url);
}

/**
 * Accepts Skein's response (`nodeId`, `xdsServer`) and Kuma's (`bootstrap`: base64 Envoy bootstrap
 * YAML/JSON whose ADS cluster holds the address). Anything missing is an error naming what was expected.
 */
export function parseBootstrapResponse(json: unknown, url: URL): BootstrapResult {
  const res = (json ?? {}) as { nodeId?: unknown; xdsServer?: { address?: unknown; port?: unknown; tls?: unknown }; bootstrap?: unknown };
  const envoy = typeof res.bootstrap === 'string' ? decodeEnvoyBootstrap(res.bootstrap) : undefined;
  const fromEnvoy = envoy ? adsAddress(envoy) : undefined;
  const nodeId = typeof res.nodeId === 'string' && res.nodeId ? res.nodeId : (envoy?.node?.id ?? '');
  const host = typeof res.xdsServer?.address === 'string' ? res.xdsServer.address : fromEnvoy?.host;
  const port = res.xdsServer?.port !== undefined ? Number(res.xdsServer.port) : fromEnvoy?.port;
  if (!nodeId) throw new Error(`bootstrap response from ${url.href} has no node id (expected "nodeId" or "bootstrap" with node.id)`);
  if (!host || !port) {
    throw new Error(`bootstrap response from ${url.href} has no xDS server address (expected "xdsServer" {address, port} or "bootstrap" with an ADS cluster)`);
  }
  return {
    nodeId,
    xds: { host, port, tls: typeof res.xdsServer?.tls === 'boolean' ? res.xdsServer.tls : (fromEnvoy?.tls ?? url.protocol === 'https:') },
    nodeMetadata: envoy?.node?.metadata ?? {},
  };
}

interface EnvoyBootstrap {
  node?: { id?: string; metadata?: Record<string, unknown> };
  dynamic_resources?: { ads_config?: { grpc_services?: { envoy_grpc?: { cluster_name?: string } }[] } };
  static_resources?: { clusters?: StaticCluster[] };
}

interface StaticCluster {
  name?: string;
  transport_socket?: unknown;
  load_assignment?: { endpoints?: { lb_endpoints?: { endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } } }[] }[] };
}

function decodeEnvoyBootstrap(base64: string): EnvoyBootstrap | undefined {
  try {
    return YAML.parse(Buffer.from(base64, 'base64').toString('utf8')) as EnvoyBootstrap;
  } catch {
    return undefined;
  }
}

function adsAddress(bootstrap: EnvoyBootstrap): { host: string; port: number; tls: boolean | undefined } | undefined {
  const clusterName = bootstrap.dynamic_resources?.ads_config?.grpc_services?.[0]?.envoy_grpc?.cluster_name;
  const cluster = bootstrap.static_resources?.clusters?.find((c) => c.name === clusterName);
  const sa = cluster?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address;
  if (!sa?.address || !sa.port_value) return undefined;
  return { host: sa.address, port: Number(sa.port_value), tls: cluster?.transport_socket ? true : undefined };
}

function postJson(url: URL, body: unknown, ca?: Buffer): Promise<{ status: number; text: string }> {
  const payload = JSON.stringify(body);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    timeout: 10_000,
    // With a CA the certificate chain and hostname/IP are verified; without one (kuma-dp's default) they are not.
    ...(url.protocol === 'https:' ? { minVersion: 'TLSv1.2' as const, ...(ca ? { ca } : { rejectUnauthorized: false }) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url.href} within 10s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
