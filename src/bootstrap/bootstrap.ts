// POST /bootstrap: a data plane introduces itself (name, mesh, optional Dataplane resource, token)
// and gets back the Envoy bootstrap that points it at the xDS server.
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import YAML from 'yaml';
import { ValidationError } from '../api/resource.js';
import { fromWire } from '../api/index.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { MeshNotFoundError } from '../core/errors.js';
import { authorizeDataplane, verifyDataplaneToken } from '../auth/dataplane-tokens.js';
import { TokenError } from '../auth/jwt.js';
import type { Logger } from '../observability/logger.js';
import { authenticateZoneProxy } from '../auth/zone-tokens.js';
import { LEGACY_PROXY_KINDS, legacyNodeId, type LegacyProxyType } from '../xds/legacy-zone-proxies.js';

export interface BootstrapRequest {
  mesh?: string;
  name?: string;
  proxyType?: string;
  dataplaneToken?: string;
  /** The Dataplane as a JSON or YAML string (Kuma sends JSON). */
  dataplaneResource?: string;
  version?: Record<string, unknown>;
  workdir?: string;
}

export interface BootstrapResponse {
  /** Envoy v3 bootstrap, base64 of its JSON (Kuma sends base64 YAML; JSON is valid YAML). */
  bootstrap: string;
  nodeId: string;
  /** `tls`: whether the xDS connection uses TLS (it does when the bootstrap request came over TLS). */
  xdsServer: { address: string; port: number; tls: boolean };
  skeinSidecarConfiguration: { networking: { address: string } };
}

export interface BootstrapOptions {
  manager: ResourceManager;
  logger: Logger;
  auth: 'dpToken' | 'none';
  /** This server's port; the bootstrap points data planes back at the host they reached it on. */
  port: () => number;
  /** This CP's zone (`multizone.zone.name`): legacy zone proxies' tokens must be issued for it. */
  zone?: string;
}

const PROXY_TYPES = ['dataplane', 'ingress', 'egress'];

class BootstrapError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function registerBootstrapRoute(app: FastifyInstance, opts: BootstrapOptions): void {
  app.post('/bootstrap', async (req, reply) => {
    try {
      const host = new URL(`http://${req.headers.host ?? '127.0.0.1'}`).hostname.replace(/^\[|\]$/g, '');
      // The data plane reaches xDS the way it reached us: over TLS when this request came over TLS.
      const tls = (req.raw.socket as { encrypted?: boolean }).encrypted === true;
      const res = await handleBootstrap(req.body as BootstrapRequest, opts, { address: host, port: opts.port(), tls });
      return reply.code(200).send(res);
    } catch (err) {
      if (err instanceof BootstrapError) return reply.code(err.status).type('text/plain').send(err.message);
      if (err instanceof ValidationError) {
        return reply.code(422).type('text/plain').send(err.violations.map((v) => `${v.field}: ${v.reason}`).join('; '));
      }
      if (err instanceof MeshNotFoundError) return reply.code(422).type('text/plain').send(`mesh: mesh "${err.mesh}" does not exist`);
      opts.logger.error({ err }, 'bootstrap failed');
      return reply.code(500).type('text/plain').send('Internal Server Error');
    }
  });
}

/** The resource sent in `dataplaneResource` (YAML or JSON), validated; undefined when none was sent. */
function parseResource(text: string | undefined): ReturnType<typeof fromWire>['resource'] {
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new BootstrapError(400, `dataplaneResource: ${(err as Error).message}`);
  }
  const parsed = fromWire(raw);
  if (!parsed.resource) throw new ValidationError(parsed.violations);
  return parsed.resource;
}

async function handleBootstrap(body: BootstrapRequest, opts: BootstrapOptions, xds: { address: string; port: number; tls: boolean }): Promise<BootstrapResponse> {
  if (!body || typeof body !== 'object') throw new BootstrapError(400, 'request body must be a JSON object');
  const proxyType = body.proxyType || 'dataplane';
  if (!PROXY_TYPES.includes(proxyType)) throw new BootstrapError(400, `proxyType: "${proxyType}" is not supported, expected one of ${PROXY_TYPES.join(', ')}`);
  if (proxyType !== 'dataplane') return handleLegacyZoneProxy(body, proxyType as LegacyProxyType, opts, xds);
  const { manager } = opts;

  const parsedDp = parseResource(body.dataplaneResource);
  if (parsedDp && parsedDp.type !== 'Dataplane') throw new BootstrapError(400, `dataplaneResource: type must be Dataplane, got "${parsedDp.type}"`);
  const mesh = parsedDp?.mesh || body.mesh || 'default';
  const name = parsedDp?.name || body.name || '';
  if (!name) throw new BootstrapError(400, 'name: cannot be empty');
  if (body.name && parsedDp && body.name !== parsedDp.name) throw new BootstrapError(400, `name: "${body.name}" differs from the Dataplane resource's "${parsedDp.name}"`);
  if (body.mesh && parsedDp && body.mesh !== parsedDp.mesh) throw new BootstrapError(400, `mesh: "${body.mesh}" differs from the Dataplane resource's "${parsedDp.mesh}"`);

  if (!(await manager.meshExists(mesh))) throw new MeshNotFoundError(mesh);

  const existing = await manager.get('Dataplane', mesh, name);
  if (opts.auth === 'dpToken') {
    try {
      const claims = await verifyDataplaneToken(manager.store, body.dataplaneToken ?? '', mesh);
      const candidate = parsedDp ? { ...existing, ...parsedDp, labels: { ...parsedDp.labels, ...workloadLabel(parsedDp, mesh) } } : existing;
      authorizeDataplane(claims, { mesh, name, dataplane: candidate as never });
    } catch (err) {
      if (err instanceof TokenError) throw new BootstrapError(401, `authentication failed: ${err.message}`);
      throw err;
    }
  }

  let dataplane = existing;
  if (parsedDp) dataplane = (await manager.upsert({ ...parsedDp, mesh, name })).resource;
  if (!dataplane) throw new BootstrapError(404, '');

  const nodeId = `${mesh}.${name}`;
  const envoyBootstrap = buildEnvoyBootstrap(nodeId, mesh, name, xds, body.workdir);
  const networking = dataplane.spec['networking'] as { address?: string } | undefined;
  opts.logger.info({ mesh, name, tls: xds.tls }, 'data plane bootstrapped');
  return {
    bootstrap: Buffer.from(JSON.stringify(envoyBootstrap)).toString('base64'),
    nodeId,
    xdsServer: xds,
    skeinSidecarConfiguration: { networking: { address: networking?.address ?? '' } },
  };
}

/**
 * Legacy global-scoped ZoneIngress / ZoneEgress (Kuma 2.x `kuma-dp --proxy-type ingress|egress`): the
 * credential is a zone token (scope `ingress` / `egress`, issued for this CP's zone). The resource is
 * stored with `zone` set to this CP's zone, so it syncs to global (and an ingress on to other zones).
 */
async function handleLegacyZoneProxy(body: BootstrapRequest, proxyType: LegacyProxyType, opts: BootstrapOptions, xds: { address: string; port: number; tls: boolean }): Promise<BootstrapResponse> {
  const { manager } = opts;
  const kind = LEGACY_PROXY_KINDS[proxyType];
  const parsed = parseResource(body.dataplaneResource);
  if (parsed && parsed.type !== kind) throw new BootstrapError(400, `dataplaneResource: type must be ${kind} for proxyType ${proxyType}, got "${parsed.type}"`);
  const name = parsed?.name || body.name || '';
  if (!name) throw new BootstrapError(400, 'name: cannot be empty');
  if (body.name && parsed && body.name !== parsed.name) throw new BootstrapError(400, `name: "${body.name}" differs from the ${kind} resource's "${parsed.name}"`);
  if (opts.auth === 'dpToken') {
    try {
      await authenticateZoneProxy(manager.store, body.dataplaneToken ?? '', { zone: opts.zone ?? '', scope: proxyType });
    } catch (err) {
      if (err instanceof TokenError) throw new BootstrapError(401, `authentication failed: ${err.message}`);
      throw err;
    }
  }
  let resource = await manager.get(kind, '', name);
  if (parsed) {
    const spec = { ...parsed.spec, ...(opts.zone ? { zone: opts.zone } : {}) };
    resource = (await manager.upsert({ ...parsed, mesh: '', name, spec })).resource;
  }
  if (!resource) throw new BootstrapError(404, '');
  const nodeId = legacyNodeId(proxyType, name);
  const envoyBootstrap = buildEnvoyBootstrap(nodeId, '', name, xds, body.workdir, { 'dataplane.proxyType': proxyType });
  const networking = resource.spec['networking'] as { address?: string } | undefined;
  opts.logger.info({ kind, name, tls: xds.tls }, 'zone proxy bootstrapped');
  return {
    bootstrap: Buffer.from(JSON.stringify(envoyBootstrap)).toString('base64'),
    nodeId,
    xdsServer: xds,
    skeinSidecarConfiguration: { networking: { address: networking?.address ?? '' } },
  };
}

/** Zone proxies get their workload label computed; tokens bound to a workload are checked against it. */
function workloadLabel(dp: { labels: Record<string, string> }, mesh: string): Record<string, string> {
  const role = dp.labels['kuma.io/zone-proxy-role'];
  if (dp.labels['kuma.io/proxy-type'] === 'zoneproxy' && role) return { 'kuma.io/workload': `zone-proxy-${mesh}-${role}` };
  return {};
}

/** A real Envoy v3 bootstrap: ADS over Delta gRPC to the control plane, admin on a Unix socket. */
export function buildEnvoyBootstrap(
  nodeId: string,
  mesh: string,
  name: string,
  xds: { address: string; port: number; tls?: boolean },
  workdir?: string,
  metadata: Record<string, string> = {},
): Record<string, unknown> {
  return {
    node: { id: nodeId, cluster: name, metadata: { ...(mesh ? { 'dataplane.mesh': mesh } : {}), 'dataplane.name': name, ...metadata } },
    admin: { address: { pipe: { path: `${workdir ?? '/tmp'}/skein-dp-admin.sock`, mode: 0o600 } } },
    dynamic_resources: {
      ads_config: {
        api_type: 'DELTA_GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: 'ads_cluster' } }],
      },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: {
      clusters: [
        {
          name: 'ads_cluster',
          type: 'STRICT_DNS',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          ...(xds.tls
            ? {
                transport_socket: {
                  name: 'envoy.transport_sockets.tls',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                    ...(net.isIP(xds.address) ? {} : { sni: xds.address }),
                    common_tls_context: { alpn_protocols: ['h2'] },
                  },
                },
              }
            : {}),
          load_assignment: {
            cluster_name: 'ads_cluster',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: xds.address, port_value: xds.port } } } }] }],
          },
        },
      ],
    },
  };
}
