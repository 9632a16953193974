// The REST API (Kuma-compatible paths) on Fastify. Generic over resource kinds: a kind's descriptor
// says where it lives (scope, collection path) and the ResourceManager does the rest.
import os from 'node:os';
import crypto from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import YAML from 'yaml';
import { allDescriptors } from '../api/descriptor.js';
import type { ResourceManager } from '../core/resource-manager.js';
import type { Logger } from '../observability/logger.js';
import type { CpMetrics } from '../observability/metrics.js';
import { ApiError, toApiError } from './errors.js';
import { registerPolicyInspectRoutes } from './policy-inspect.js';
import { registerResourceRoutes } from './resources.js';
import { guiAvailable, registerGui } from './gui.js';

export interface ApiServerOptions {
  manager: ResourceManager;
  logger: Logger;
  metrics?: CpMetrics;
  mode: 'standalone' | 'global' | 'zone';
  federatedZone: boolean;
  readOnly: boolean;
  corsAllowedDomains: string[];
  bodyLimit: number;
  version: string;
  instanceId: string;
  /** Serve the web GUI at /gui (default true). */
  gui?: boolean;
  /** Extra routes from other components (bootstrap inspect, xDS inspect, tokens). */
  extensions?: ((app: FastifyInstance) => void)[];
}

export async function buildApiServer(opts: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit, logger: false, return503OnClosing: true, forceCloseConnections: true });

  // Resources are JSON (or YAML); Fastify's default text/plain parser would let anything through.
  app.removeContentTypeParser('text/plain');
  // YAML bodies are accepted too: handy with curl --data-binary @mesh.yaml.
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, YAML.parse(body as string));
    } catch (err) {
      done(new ApiError(400, 'Bad Request', `invalid YAML: ${(err as Error).message}`), undefined);
    }
  });

  if (opts.corsAllowedDomains.length > 0) {
    const allowed = opts.corsAllowedDomains.map(toOriginMatcher);
    await app.register(cors, { origin: allowed, exposedHeaders: ['Access-Control-Allow-Origin'] });
  }

  if (opts.metrics) {
    const metrics = opts.metrics;
    app.addHook('onResponse', async (req, reply) => {
      const route = req.routeOptions.url ?? 'unmatched';
      metrics.apiRequests.inc({ method: req.method, route, status_code: String(reply.statusCode) });
      metrics.apiLatency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    });
  }

  app.setErrorHandler((err, req, reply) => {
    const apiError = toApiError(err, titleFor(req));
    if (apiError.status >= 500) opts.logger.error({ err, url: req.url }, 'request failed');
    void reply.code(apiError.status).type('application/json').send(apiError.body());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError(404, 'Not Found', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).type('application/json').send(e.body());
  });

  const guiEnabled = opts.gui ?? true;
  const gui = guiEnabled && guiAvailable();
  app.get('/', async (req, reply) => {
    // Browsers opening the API's root land on the GUI, as with Kuma; API clients get the index.
    if (gui && (req.headers.accept ?? '').includes('text/html')) return reply.redirect('/gui/');
    return {
      hostname: os.hostname(),
      product: 'Skein',
      version: opts.version,
      instanceId: opts.instanceId,
      clusterId: '',
      gui: gui ? 'The gui is available at /gui' : '',
      basedOnKuma: '2.14.3',
      // Skein additions: the CP mode (standalone | global | zone), its zone name ('' unless zone mode)
      // and whether it is a zone connected to a global CP.
      mode: opts.mode,
      zone: opts.mode === 'zone' ? opts.manager.ctx.zone : '',
      federated: opts.federatedZone,
    };
  });
  if (guiEnabled) await registerGui(app);

  app.get('/_resources', async () => ({
    resources: allDescriptors().map((d) => ({
      name: d.name,
      path: d.path,
      scope: d.scope,
      readOnly: !!d.readOnly,
      singularDisplayName: d.singularDisplayName,
      pluralDisplayName: d.pluralDisplayName,
      shortName: d.shortName ?? '-',
      includeInFederation: !!(d.providedByGlobal || d.providedByZone),
      ...(d.isPolicy ? { policy: { isTargetRef: true } } : {}),
    })),
  }));

  app.get('/policies', async () => ({
    policies: allDescriptors()
      .filter((d) => d.isPolicy)
      .map((d) => ({ name: d.name, readOnly: !!d.readOnly, path: d.path, singularDisplayName: d.singularDisplayName, pluralDisplayName: d.pluralDisplayName, isTargetRefBased: true })),
  }));

  for (const ext of opts.extensions ?? []) ext(app);
  registerPolicyInspectRoutes(app, opts.manager);
  registerResourceRoutes(app, {
    manager: opts.manager,
    mode: opts.mode,
    federatedZone: opts.federatedZone,
    readOnly: opts.readOnly,
  });
  return app;
}

/** Kuma's context titles, by method. */
function titleFor(req: FastifyRequest): string {
  switch (req.method) {
    case 'PUT':
      return 'Could not process a resource';
    case 'DELETE':
      return 'Could not delete a resource';
    default:
      return req.routeOptions.url?.endsWith(':name') ? 'Could not retrieve a resource' : 'Could not retrieve resources';
  }
}

function toOriginMatcher(domain: string): string | RegExp {
  // `/regexp/` or anything with regexp metacharacters is a pattern; plain domains match exactly.
  if (domain.length > 2 && domain.startsWith('/') && domain.endsWith('/')) return new RegExp(domain.slice(1, -1));
  return domain;
}

export function newInstanceId(): string {
  return `${os.hostname()}-${crypto.randomBytes(2).toString('hex')}`;
}
