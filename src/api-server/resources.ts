// Generic CRUD routes for every resource kind:
//   Global kinds:  GET /{path}, GET|PUT|DELETE /{path}/{name}
//   Mesh kinds:    GET /meshes/{mesh}/{path}, GET|PUT|DELETE /meshes/{mesh}/{path}/{name}, GET /{path} (all meshes)
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Labels, Resource, Violation } from '../api/resource.js';
import { descriptorByPath, type ResourceDescriptor } from '../api/descriptor.js';
import { fromWire, toWire } from '../api/index.js';
import type { ResourceManager } from '../core/resource-manager.js';
import { writeNotAllowed, type ScopeContext } from '../core/scoping.js';
import { ApiError } from './errors.js';

export interface ResourceRoutesOptions {
  manager: ResourceManager;
  mode: 'standalone' | 'global' | 'zone';
  federatedZone: boolean;
  readOnly: boolean;
}

type Params = { mesh?: string; collection: string; name?: string };
type Query = Record<string, string | string[] | undefined>;

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

export function registerResourceRoutes(app: FastifyInstance, opts: ResourceRoutesOptions): void {
  const { manager } = opts;

  const lookup = (collection: string, scope: 'Global' | 'Mesh' | 'any'): ResourceDescriptor => {
    const d = descriptorByPath(collection);
    if (!d || (scope !== 'any' && d.scope !== scope)) {
      throw new ApiError(404, 'Not Found', `unknown resource collection "${collection}"`);
    }
    return d;
  };

  const requireMesh = async (mesh: string): Promise<void> => {
    if (!(await manager.meshExists(mesh))) throw new ApiError(404, 'Failed to retrieve Mesh', 'Not found', [{ field: 'mesh', reason: `mesh "${mesh}" does not exist` }]);
  };

  // CP-mode scoping (core/scoping.ts). Checked first, as Kuma routes read-only kinds to a 405
  // handler; the manager checks again for writes with origin 'api'.
  const scope: ScopeContext = { ...manager.scope(), mode: opts.mode, federated: opts.federatedZone, apiReadOnly: opts.readOnly };
  const checkWritable = (d: ResourceDescriptor): void => {
    const msg = writeNotAllowed(d, scope);
    if (msg) throw new ApiError(405, 'Method not allowed', msg);
  };

  const listHandler = async (d: ResourceDescriptor, mesh: string | undefined, req: FastifyRequest, reply: FastifyReply) => {
    const query = req.query as Query;
    const { size, offset } = pageParams(query);
    const labels = labelFilter(query, req.routeOptions.url ?? '');
    const nameContains = single(query['name']);
    const all = await manager.list(d.name, { mesh, labels, nameContains });
    const items = all.slice(offset, offset + size);
    const nextOffset = offset + size;
    return reply.send({
      total: all.length,
      items: items.map(toWire),
      next: nextOffset < all.length ? nextUrl(req, nextOffset) : null,
    });
  };

  const getHandler = async (d: ResourceDescriptor, mesh: string, name: string, reply: FastifyReply) => {
    const r = await manager.get(d.name, mesh, name);
    if (!r) throw new ApiError(404, 'Could not retrieve a resource', 'Not found');
    return reply.send(toWire(r));
  };

  const putHandler = async (d: ResourceDescriptor, mesh: string, name: string, req: FastifyRequest, reply: FastifyReply) => {
    checkWritable(d);
    if (d.scope === 'Mesh') await requireMesh(mesh);
    const body = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError(400, 'Bad Request', `invalid ${d.name} object: body must be a JSON object`);
    }
    const raw = { ...(body as Record<string, unknown>) };
    // Missing meta defaults to the URL's; a different value is an error below.
    raw['type'] ??= d.name;
    raw['name'] ??= name;
    if (d.scope === 'Mesh') raw['mesh'] ??= mesh;

    const violations: Violation[] = [];
    if (raw['name'] !== name) violations.push({ field: 'name', reason: 'name from the URL has to be the same as in body' });
    if (raw['type'] !== d.name) violations.push({ field: 'type', reason: 'type from the URL has to be the same as in body' });
    if (d.scope === 'Mesh' && raw['mesh'] !== mesh) violations.push({ field: 'mesh', reason: 'mesh from the URL has to be the same as in body' });
    if (violations.length > 0) throw new ApiError(400, 'Could not process a resource', 'Resource is not valid', violations);

    const parsed = fromWire(raw);
    if (parsed.violations.length > 0 || !parsed.resource) {
      throw new ApiError(400, 'Could not process a resource', 'Resource is not valid', parsed.violations);
    }
    const result = await manager.upsert({ ...parsed.resource, mesh: d.scope === 'Mesh' ? mesh : '' }, { origin: 'api' });
    const payload = result.warnings.length > 0 ? { warnings: result.warnings } : {};
    return reply.code(result.created ? 201 : 200).send(payload);
  };

  const deleteHandler = async (d: ResourceDescriptor, mesh: string, name: string, reply: FastifyReply) => {
    checkWritable(d);
    if (d.scope === 'Mesh') await requireMesh(mesh);
    const existing = await manager.get(d.name, mesh, name);
    if (!existing) throw new ApiError(404, 'Could not delete a resource', 'Not found');
    await manager.delete(d.name, mesh, name, { origin: 'api' });
    return reply.send({});
  };

  // Global collections, and mesh-scoped collections across all meshes.
  app.get<{ Params: Params }>('/:collection', async (req, reply) => {
    const collection = req.params.collection;
    if (collection.endsWith('+insights')) {
      const d = lookup(collection.slice(0, -'+insights'.length), 'any');
      return overviewList(d, undefined, req, reply);
    }
    return listHandler(lookup(collection, 'any'), undefined, req, reply);
  });
  app.get<{ Params: Params }>('/:collection/:name', async (req, reply) => {
    const d = lookup(req.params.collection, 'Global');
    if (req.params.name === '_overview') return overviewList(d, undefined, req, reply);
    return getHandler(d, '', req.params.name!, reply);
  });
  app.put<{ Params: Params }>('/:collection/:name', async (req, reply) => putHandler(lookup(req.params.collection, 'Global'), '', req.params.name!, req, reply));
  app.delete<{ Params: Params }>('/:collection/:name', async (req, reply) => deleteHandler(lookup(req.params.collection, 'Global'), '', req.params.name!, reply));

  // Mesh-scoped collections.
  app.get<{ Params: Params }>('/meshes/:mesh/:collection', async (req, reply) => {
    const mesh = req.params.mesh!;
    await requireMesh(mesh);
    const collection = req.params.collection;
    if (collection.endsWith('+insights')) return overviewList(lookup(collection.slice(0, -'+insights'.length), 'Mesh'), mesh, req, reply);
    return listHandler(lookup(collection, 'Mesh'), mesh, req, reply);
  });
  app.get<{ Params: Params }>('/meshes/:mesh/:collection/:name', async (req, reply) => {
    const mesh = req.params.mesh!;
    await requireMesh(mesh);
    const collection = req.params.collection;
    if (collection.endsWith('+insights')) return overviewItem(lookup(collection.slice(0, -'+insights'.length), 'Mesh'), mesh, req.params.name!, reply);
    const d = lookup(collection, 'Mesh');
    if (req.params.name === '_overview') return overviewList(d, mesh, req, reply);
    return getHandler(d, mesh, req.params.name!, reply);
  });
  app.get<{ Params: Params }>('/meshes/:mesh/:collection/:name/_overview', async (req, reply) => {
    await requireMesh(req.params.mesh!);
    return overviewItem(lookup(req.params.collection, 'Mesh'), req.params.mesh!, req.params.name!, reply);
  });
  app.put<{ Params: Params }>('/meshes/:mesh/:collection/:name', async (req, reply) => putHandler(lookup(req.params.collection, 'Mesh'), req.params.mesh!, req.params.name!, req, reply));
  app.delete<{ Params: Params }>('/meshes/:mesh/:collection/:name', async (req, reply) => deleteHandler(lookup(req.params.collection, 'Mesh'), req.params.mesh!, req.params.name!, reply));

  // Overviews: a resource together with its insight (`<Kind>Insight` of the same name).
  const overviewOf = async (d: ResourceDescriptor, r: Resource) => {
    const insightType = `${d.name}Insight`;
    const insight = manager.store ? await manager.store.get({ type: insightType, mesh: r.mesh, name: r.name }) : undefined;
    const wire = toWire(r);
    const { type: _type, mesh: m, name, creationTime, modificationTime, labels, ...spec } = wire as Record<string, unknown>;
    const key = lowerFirst(d.name);
    return {
      type: `${d.name}Overview`,
      ...(m !== undefined ? { mesh: m } : {}),
      name,
      creationTime,
      modificationTime,
      ...(labels ? { labels } : {}),
      [key]: { ...(labels ? { labels } : {}), ...spec },
      ...(insight ? { [`${key}Insight`]: insight.spec } : {}),
    };
  };

  async function overviewList(d: ResourceDescriptor, mesh: string | undefined, req: FastifyRequest, reply: FastifyReply) {
    if (!d.hasInsights) throw new ApiError(404, 'Not Found', `${d.name} has no overview`);
    const query = req.query as Query;
    const { size, offset } = pageParams(query);
    const all = await manager.list(d.name, { mesh, labels: labelFilter(query, req.routeOptions.url ?? ''), nameContains: single(query['name']) });
    const page = all.slice(offset, offset + size);
    const items = await Promise.all(page.map((r) => overviewOf(d, r)));
    return reply.send({ total: all.length, items, next: offset + size < all.length ? nextUrl(req, offset + size) : null });
  }

  async function overviewItem(d: ResourceDescriptor, mesh: string, name: string, reply: FastifyReply) {
    if (!d.hasInsights) throw new ApiError(404, 'Not Found', `${d.name} has no overview`);
    const r = await manager.get(d.name, mesh, name);
    if (!r) throw new ApiError(404, 'Could not retrieve a resource', 'Not found');
    return reply.send(await overviewOf(d, r));
  }
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function pageParams(query: Query): { size: number; offset: number } {
  let size = DEFAULT_PAGE_SIZE;
  const rawSize = single(query['size']);
  if (rawSize !== undefined) {
    if (!/^-?\d+$/.test(rawSize)) throw new ApiError(400, 'Bad Request', 'Invalid page size', [{ field: 'size', reason: 'invalid format' }]);
    size = Number(rawSize);
    if (size <= 0) throw new ApiError(400, 'Bad Request', 'Invalid page size', [{ field: 'size', reason: 'must be greater than 0' }]);
    if (size > MAX_PAGE_SIZE) {
      throw new ApiError(400, 'Bad Request', 'Invalid page size', [{ field: 'size', reason: `invalid page size of ${size}. Maximum page size is ${MAX_PAGE_SIZE}` }]);
    }
  }
  let offset = 0;
  const rawOffset = single(query['offset']);
  if (rawOffset !== undefined && rawOffset !== '') {
    if (!/^-?\d+$/.test(rawOffset)) throw new ApiError(400, 'Bad Request', `invalid: invalid offset: "${rawOffset}" is not a number`, [{ field: 'offset', reason: 'invalid format' }]);
    offset = Number(rawOffset);
    if (offset < 0) throw new ApiError(400, 'Bad Request', 'invalid: invalid offset: must be non-negative', [{ field: 'offset', reason: 'must be non-negative' }]);
  }
  return { size, offset };
}

/** `filter[labels.<key>]=<value>` query parameters: exact label equality, all must match. */
export function labelFilter(query: Query, route: string): Labels | undefined {
  let labels: Labels | undefined;
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith('filter')) continue;
    const m = /^filter\[labels\.(.+)\]$/.exec(key);
    if (!m) {
      const reason = key.startsWith('filter[labels.') ? 'advanced filters are not supported' : 'filters are only supported on labels';
      throw new ApiError(400, 'Bad Request', 'invalid filter', [{ field: `${route}.${key}`, reason }]);
    }
    labels ??= {};
    labels[m[1]!] = single(value) ?? '';
  }
  return labels;
}

export function nextUrl(req: FastifyRequest, nextOffset: number): string {
  const url = new URL(req.url, `${req.protocol}://${req.headers.host ?? 'localhost'}`);
  url.searchParams.set('offset', String(nextOffset));
  url.searchParams.sort();
  return `${url.origin}${url.pathname}?${url.searchParams.toString()}`;
}
